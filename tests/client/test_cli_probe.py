"""`judge-service probe` as a user runs it, against a live stack with a worker."""

import json
import subprocess

import pytest

from judge_service.demo.sample import sample_pairs
from tests.conftest import Stack, create_run, wait_until_done
from tests.test_cli import cli

pytestmark = pytest.mark.slow


def _cli(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    return cli(*args, env={"JUDGE_URL": str(stack.api.base_url), "COLUMNS": "80"})


def test_probe_waits_for_its_runs_and_prints_the_table(stack: Stack) -> None:
    run = create_run(stack.api, ["sim"], rubric="reasoning-trace")
    pairs = {"pairs": sample_pairs(20)}
    stack.api.post(f"/v1/runs/{run['id']}/pairs", json=pairs).raise_for_status()
    stack.start_worker()
    wait_until_done(stack.api, run["id"])

    args = ("probe", str(run["id"]), "--kind", "drop_images", "--kind", "pad_length")
    printed = _cli(stack, *args, "--sample", "12", "--seed", "4")
    assert printed.returncode == 0, printed.stderr
    table = stack.api.get(f"/v1/runs/{run['id']}/probes").json()
    assert [(p["probe"], p["pairs"], p["status"]) for p in table["probes"]] == [
        ("drop_images", 12, "done"),
        ("pad_length", 12, "done"),
    ]
    for probe in table["probes"]:
        assert f"Probe {probe['probe']} (run {probe['run_id']}, 12 pairs, done)" in printed.stdout
    lines = printed.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    # The sample has no images, so dropping them changes nothing for any judge.
    assert any(
        line.startswith("sim: verdict unchanged in 100% of 12 pairs when the images")
        for line in lines
    )

    as_json = _cli(stack, *args, "--sample", "5", "--json")
    assert as_json.returncode == 0, as_json.stderr
    assert len(json.loads(as_json.stdout)["probes"]) == 4  # two more, judged too

    bad = _cli(stack, "probe", str(run["id"]), "--kind", "drop_image")
    assert bad.returncode == 1 and "probes" in bad.stderr
