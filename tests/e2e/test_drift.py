"""A drift check end to end: a real worker, the real OpenAI SDK, the SIMULATED provider.

The reference run and the first check are judged by the same simulated judge, so they
agree. Then the provider's model moves under the same name (`POST /simulator/behaviour`:
a strong position bias, and a new version in its replies) while the judge's configuration
stays as it was: the second check must report drift, with an interval of the change that
excludes 0, and the new version. A third check, with nothing changed since the second, must
not. The simulated judge is deterministic per pair and order, so these outcomes are too.
"""

import json
import re
from typing import Any

import httpx
import pytest

from judge_service.demo.sample import sample_pairs
from tests.conftest import Stack, StackFactory, create_run, wait_until_done
from tests.test_cli import cli

pytestmark = pytest.mark.slow
S = "sim"
PAIRS = 120


def _check(stack: Stack) -> dict[str, Any]:
    started = stack.api.post("/v1/drift/checks", json={"judge": S})
    assert started.status_code == 201, started.text
    wait_until_done(stack.api, started.json()["run_id"], timeout=180)
    report = stack.api.get(f"/v1/drift/checks/{started.json()['id']}").json()
    assert report["status"] == "done" and report["comparison"]["pairs"] == PAIRS
    return report


def test_a_moved_judge_is_caught_and_a_steady_one_is_not(stack_factory: StackFactory) -> None:
    stack = stack_factory()
    run = create_run(stack.api, [S])
    pairs = sample_pairs(PAIRS)
    stack.api.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": pairs}).raise_for_status()
    stack.start_worker()
    wait_until_done(stack.api, run["id"], timeout=180)
    judge_config = stack.api.get("/v1/judges").json()
    # The CLI registers the run as the reference, starts the first check and waits for it.
    url = str(stack.api.base_url)
    result = cli("drift", "--judge", S, "--reference-run", str(run["id"]), "--url", url, "--json")
    assert result.returncode == 0, result.stderr
    first = json.loads(result.stdout)
    assert first["status"] == "done" and first["comparison"]["pairs"] == PAIRS
    assert first["compared_with"] == "reference_run"
    assert first["comparison"]["agreement"] == 1.0 and not first["comparison"]["drifted"]
    assert (
        first["versions_before"] == first["versions_after"] == ["simulated-judge (simulated-judge)"]
    )

    moved = httpx.post(
        f"{stack.simulator.url}/simulator/behaviour",
        json={"knobs": {"position_bias": 0.6}, "version": "2026-12"},
    )
    assert moved.status_code == 200, moved.text
    second = _check(stack)
    assert stack.api.get("/v1/judges").json() == judge_config  # same judge, as configured
    assert second["judge_config"] == first["judge_config"]
    assert second["compared_with"] == "previous_check"
    assert second["previous_check_id"] == first["id"]
    change = second["comparison"]
    low, high = change["win_rate_change_ci"]
    assert change["drifted"] and (high < 0 or low > 0), change
    assert change["agreement"] < 0.8
    assert second["versions_after"] == ["simulated-judge-2026-12 (simulated-judge-2026-12)"]
    assert second["version_changed"]

    # Nothing changed since: the CLI starts the third check, waits for it and prints it.
    result = cli("drift", "--judge", S, "--url", url)
    assert result.returncode == 0, result.stderr
    assert "no drift detected" in result.stdout
    assert f"compared with check {second['id']}" in result.stdout
    third_id = re.search(r"^drift check (\d+) of sim", result.stdout, re.MULTILINE)
    assert third_id is not None, result.stdout
    third = stack.api.get(f"/v1/drift/checks/{third_id.group(1)}").json()
    assert third["comparison"]["agreement"] == 1.0
    assert third["comparison"]["win_rate_change"] == 0.0 and not third["comparison"]["drifted"]
    assert not third["version_changed"]
