"""Log lines: JSON objects (or text) carrying the ids call sites pass, from real processes."""

import json
import logging
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from judge_service.background import free_port
from judge_service.db import migrate
from judge_service.demo.sample import sample_pairs
from judge_service.ops.logs import JsonFormatter, TextFormatter
from tests.conftest import Stack, create_run, start_cli, wait_until_done


def _record(**extra: Any) -> logging.LogRecord:
    logger = logging.getLogger("judge_service.test")
    return logger.makeRecord(
        logger.name, logging.WARNING, __file__, 1, "judged %d", (3,), None, extra=extra
    )


def test_json_line_has_the_standard_fields_and_the_extras() -> None:
    line = json.loads(JsonFormatter().format(_record(run_id=7, pair_ids=[1, 2], at=Path("/x"))))
    assert line["level"] == "WARNING" and line["logger"] == "judge_service.test"
    assert line["message"] == "judged 3"
    assert line["ts"].endswith("+00:00")
    assert (line["run_id"], line["pair_ids"], line["at"]) == (7, [1, 2], "/x")
    assert not {"args", "msg", "levelno", "pathname"} & set(line)


def test_json_line_carries_the_traceback() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = _record()
        record.exc_info = sys.exc_info()
    line = json.loads(JsonFormatter().format(record))
    assert "ValueError: boom" in line["exc"] and "Traceback" in line["exc"]


def test_text_line_ends_with_the_extras() -> None:
    text = TextFormatter().format(_record(run_id=7, judge="sim"))
    assert text.endswith("WARNING judge_service.test: judged 3 run_id=7 judge=sim")


def json_lines(output: str) -> list[dict[str, Any]]:
    """Every line of a process's output, each of which must be one JSON object."""
    lines = [json.loads(line) for line in output.splitlines()]
    assert lines and all(isinstance(line, dict) for line in lines)
    assert all({"ts", "level", "logger", "message"} <= set(line) for line in lines)
    return lines


def test_worker_logs_json_lines_with_the_run_and_pair_ids(stack: Stack) -> None:
    run = create_run(stack.api, ["sim", "sim-anthropic"])
    body = {"pairs": sample_pairs(12)}  # two chunks of the stack's 10
    assert stack.api.post(f"/v1/runs/{run['id']}/pairs", json=body).status_code == 202
    worker = stack.start_worker(log_format="json")
    counts = wait_until_done(stack.api, run["id"])["counts"]
    output = worker.stop()  # stdout and stderr together: both must be JSON lines
    lines = json_lines(output)
    assert any(line["logger"].startswith("rq.") for line in lines)  # RQ's own lines too
    # One job: once its chunk's calls had gone out it claimed the rest of the run (the
    # second job's pairs) with a second claim, and the second job found nothing to claim.
    chunks = [line for line in lines if line["message"] == "chunk judged"]
    assert len(chunks) == 1
    assert {line["run_id"] for line in chunks} == {run["id"]}
    pair_ids = {
        item["pair_id"] for item in stack.api.get(f"/v1/runs/{run['id']}/pairs").json()["items"]
    }
    assert {pair for line in chunks for pair in line["pair_ids"]} == pair_ids
    assert sum(line["done"] for line in chunks) == counts["judgments_done"] == 12 * 2 * 2
    claims = [line for line in lines if line["message"].startswith("claimed")]
    assert [line["run_id"] for line in claims] == [run["id"], run["id"]]


def test_serve_logs_requests_as_json(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'serve.db'}"
    migrate.upgrade(database_url)
    port = free_port()
    server = start_cli(
        *("serve", "--port", str(port)),
        env={"JUDGE_DATABASE_URL": database_url, "JUDGE_LOG_FORMAT": "json"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/healthz")
                break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline, server.stderr
                time.sleep(0.1)
        assert response.status_code == 200
    finally:
        server.terminate()
        stdout, stderr = server.communicate(timeout=30)
    assert stdout == ""
    lines = json_lines(stderr)
    access = [line for line in lines if line["logger"] == "uvicorn.access"]
    assert access and access[-1]["path"] == "/healthz" and access[-1]["status"] == 200
    assert any(line["logger"] == "uvicorn.error" for line in lines)
