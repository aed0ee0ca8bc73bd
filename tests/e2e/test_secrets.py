"""Provider API keys live in server configuration only: no response, export or page shows one."""

import logging
import os
from typing import Any

import pytest

from judge_service.demo.sample import sample_pairs
from tests.conftest import KEY_ENV, StackFactory, create_run, wait_until_done

pytestmark = pytest.mark.slow
SECRET = "sk-LEAKCHECK-9f3a61c2b7"


def _judges(simulator_url: str) -> dict[str, dict[str, Any]]:
    common = {"api_key_env": KEY_ENV, "max_retries": 0, "structured": False}
    return {
        "sim": {
            "provider": "openai",
            "model": "simulated-judge",
            "base_url": f"{simulator_url}/v1",
            **common,
        },
        # Every reply unreadable: failed calls whose errors and raw replies are exported too.
        "sim-broken": {
            "provider": "anthropic",
            "model": "simulated-judge@malformed_rate=1,persistent_faults=1",
            "base_url": simulator_url,
            **common,
        },
    }


# JSON at DEBUG also covers the SDKs' and the HTTP client's own debug lines.
@pytest.mark.parametrize(("log_format", "log_level"), [("text", "INFO"), ("json", "DEBUG")])
def test_no_response_or_log_carries_the_provider_key(
    stack_factory: StackFactory,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    log_format: str,
    log_level: str,
) -> None:
    caplog.set_level(logging.DEBUG)  # the API runs in this process: every line it logs
    monkeypatch.setenv(KEY_ENV, SECRET)
    stack = stack_factory(judges=_judges)
    assert os.environ[KEY_ENV] == SECRET  # the worker inherits it through settings_env
    api = stack.api
    run = create_run(api, ["sim", "sim-broken"], rubric="reasoning-trace")
    assert api.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": sample_pairs(4)}).status_code
    worker = stack.start_worker(log_format=log_format, log_level=log_level)
    counts = wait_until_done(api, run["id"])["counts"]
    assert counts["judgments_done"] == 8 and counts["judgments_failed"] == 8
    pair_id = api.get(f"/v1/runs/{run['id']}/pairs").json()["items"][0]["pair_id"]
    paths = [
        "/v1/runs",
        f"/v1/runs/{run['id']}",
        f"/v1/runs/{run['id']}/stats",
        f"/v1/runs/{run['id']}/pairs",
        f"/v1/runs/{run['id']}/judgments?format=jsonl",
        f"/v1/runs/{run['id']}/judgments?format=csv",
        f"/v1/pairs/{pair_id}/human-labels",
        "/v1/judges",
        "/v1/rubrics",
        "/openapi.json",
        "/healthz",
        "/readyz",
        "/",
        f"/runs/{run['id']}",
        f"/runs/{run['id']}/pairs",
        f"/pairs/{pair_id}",
        "/leaderboard",
        "/metrics",
    ]
    bodies = {path: api.get(path) for path in paths}
    assert all(r.status_code == 200 for r in bodies.values()), {
        p: r.status_code for p, r in bodies.items()
    }
    exported = bodies[f"/v1/runs/{run['id']}/judgments?format=jsonl"].text
    assert "parse_error" in exported  # the failures and their messages are in the export
    for path, response in bodies.items():
        assert SECRET not in response.text, path
        assert SECRET not in str(response.headers), path
    worker_output = worker.stop()
    assert "chunk judged" in worker_output and SECRET not in worker_output
    assert len(caplog.records) > 10  # the API's and the SDK clients' lines were captured
    assert SECRET not in caplog.text
