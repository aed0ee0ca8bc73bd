"""The client commands of `judge-service`, run as a user runs them, against a live stack."""

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pandas as pd

from judge_service.demo.sample import sample_pairs, write_jsonl
from judge_service.tables import count, usd
from tests.client.conftest import unique
from tests.conftest import Stack, create_run, wait_until_done
from tests.test_cli import cli

PAIRS = 30


def _cli(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    # A wide "terminal", so rich does not wrap table cells in the captured output.
    return cli(*args, env={"JUDGE_URL": str(stack.api.base_url), "COLUMNS": "200"})


def _json(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_submit_wait_then_read_it_back(stack: Stack, tmp_path: Path) -> None:
    source = tmp_path / "pairs.jsonl"
    write_jsonl(source, sample_pairs(PAIRS))
    name = unique("cli")
    stack.start_worker()
    submit = [
        "submit",
        str(source),
        "--baseline",
        "base",
        "--candidate",
        "tuned",
        "--judge",
        "sim",
        "--judge",
        "sim-anthropic",
        "--name",
        name,
        "--chunk-size",
        "12",
    ]
    first = _cli(stack, *submit, "--wait")
    assert first.returncode == 0, first.stderr
    match = re.search(r"^run (\d+) ", first.stdout, re.MULTILINE)
    assert match, first.stdout
    run_id = int(match.group(1))
    assert f"{PAIRS} pairs added, 0 already there (3 requests); done" in first.stdout
    assert "tuned preferred over base" in first.stdout
    api_stats = stack.api.get(f"/v1/runs/{run_id}/stats").json()
    assert f"{100 * api_stats['win_rate']:.1f}%" in first.stdout

    again = _json(_cli(stack, *submit, "--json"))  # same name: resumes, sends nothing
    assert again["run"]["id"] == run_id
    assert again["upload"]["already_present"] == PAIRS and again["upload"]["accepted"] == 0

    assert _json(_cli(stack, "stats", str(run_id), "--json")) == api_stats
    table = _cli(stack, "stats", str(run_id))
    assert table.returncode == 0 and "panel (majority)" in table.stdout
    assert "sim-anthropic" in table.stdout

    status = _json(_cli(stack, "status", str(run_id), "--json"))
    assert status == stack.api.get(f"/v1/runs/{run_id}").json()
    assert status["counts"]["judgments_done"] == PAIRS * 4
    plain = _cli(stack, "status", str(run_id))
    assert f"status: done; {PAIRS} pairs; {PAIRS * 4}/{PAIRS * 4} judged" in plain.stdout

    listed = _json(_cli(stack, "runs", "--json"))
    assert listed == stack.api.get("/v1/runs").json()
    assert name in _cli(stack, "runs").stdout

    out = tmp_path / "out.parquet"
    exported = _cli(stack, "export", str(run_id), "--format", "parquet", "-o", str(out))
    assert exported.returncode == 0, exported.stderr
    frame = pd.read_parquet(out)
    assert len(frame) == PAIRS * 4
    assert set(frame["external_id"]) == {p["external_id"] for p in sample_pairs(PAIRS)}
    csv_out = tmp_path / "pairs.csv"
    assert _cli(stack, "export", str(run_id), "--pairs", "-o", str(csv_out)).returncode == 0
    assert len(pd.read_csv(csv_out)) == PAIRS


def test_judges(stack: Stack) -> None:
    assert _json(_cli(stack, "judges", "--json")) == stack.api.get("/v1/judges").json()
    table = _cli(stack, "judges")
    assert "sim-anthropic" in table.stdout and "simulated-judge" in table.stdout


def test_errors_are_one_line_and_an_exit_code(stack: Stack, tmp_path: Path) -> None:
    missing = _cli(stack, "status", "987654321")
    assert missing.returncode == 1
    assert "HTTP 404" in missing.stderr and "987654321" in missing.stderr
    assert "Traceback" not in missing.stderr
    unknown = _cli(stack, "estimate", "987654321")
    assert (unknown.returncode, unknown.stderr, unknown.stdout) == (1, missing.stderr, "")

    source = tmp_path / "pairs.jsonl"
    write_jsonl(source, sample_pairs(2))
    args = ["submit", str(source), "--baseline", "b", "--candidate", "c"]
    bad_judge = _cli(stack, *args, "--judge", "gpt-99")
    assert bad_judge.returncode == 1 and "judges.0: unknown judge 'gpt-99'" in bad_judge.stderr

    no_file = _cli(stack, "submit", str(tmp_path / "nope.jsonl"), *args[2:], "--judge", "sim")
    assert no_file.returncode == 2 and "nope.jsonl" in no_file.stderr

    run = create_run(stack.api, ["sim"])  # the test's own: its database starts empty
    axis = _cli(stack, "stats", str(run["id"]), "--axis", "no-such-axis")  # passed through
    assert axis.returncode == 1 and "axis" in axis.stderr


def test_submit_passes_run_options(stack: Stack, tmp_path: Path) -> None:
    source = tmp_path / "pairs.jsonl"
    write_jsonl(source, sample_pairs(2))
    args = ["submit", str(source), "--baseline", "b", "--candidate", "c", "--judge", "sim"]
    made = _json(_cli(stack, *args, "--name", unique("opts"), "--no-cache", "--json"))
    assert (made["run"]["cache"], made["run"]["mode"], made["run"]["budget_usd"]) == (
        False,
        "live",
        None,
    )
    refused = _cli(stack, *args, "--name", unique("budget"), "--budget-usd", "3")
    assert refused.returncode != 0 and "budget_usd" in refused.stderr


def test_estimate_prints_the_api_estimate(priced_stack: Stack) -> None:
    api = priced_stack.api
    run = create_run(api, ["sim", "sim-anthropic"])
    api.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": sample_pairs(3)}).raise_for_status()
    body = api.post(f"/v1/runs/{run['id']}/estimate").json()
    assert _json(_cli(priced_stack, "estimate", str(run["id"]), "--json")) == body
    plain = _cli(priced_stack, "estimate", str(run["id"]))
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.splitlines() == [
        f"run {run['id']}: 12 judgments left, 0 of them from the cache (free)",
        f"estimate: {count(body['input_tokens'])} input tokens, "
        f"{count(body['output_tokens'])} output tokens, {usd(body['cost_usd'])}",
        "spent so far: $0.0000",
    ]
    assert body["cost_usd"] > 0 and priced_stack.judge_calls() == 0

    priced_stack.start_worker()
    spent = wait_until_done(api, run["id"])["spent_usd"]
    assert spent > 0
    after = _cli(priced_stack, "estimate", str(run["id"])).stdout.splitlines()
    assert after[0] == f"run {run['id']}: 0 judgments left, 0 of them from the cache (free)"
    assert after[2] == f"spent so far: {usd(spent)}"
