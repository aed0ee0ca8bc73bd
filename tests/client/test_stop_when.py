"""`stop_when` through the client and `judge-service submit`, and the skipped judgments' count.

The pairs fix the truth (`tests/e2e/test_stop_when.py`): the simulated judge prefers the
candidate on about 86% of them, so `excludes: 0.5` holds long before the last pair.
"""

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest

from judge_service.client import AsyncJudgeClient, JudgeClient, JudgeServiceError
from judge_service.demo.sample import sample_pairs, write_jsonl
from tests.client.conftest import unique
from tests.client.test_cli import _cli, _json
from tests.conftest import Stack
from tests.e2e.test_stop_when import pairs_with_truth

PAIRS = 400
RULE = {"figure": "win_rate", "confidence": 0.95}


@pytest.mark.parametrize(
    ("stop_when", "field"),
    [
        ({"excludes": 1.5}, "stop_when.excludes"),
        ({"excludes": 0.5, "half_width": 0.03}, "stop_when"),
        ({"half_width": 0.03, "after": 10}, "stop_when.after"),
    ],
)
def test_a_bad_stop_rule_is_the_servers_422(
    client: JudgeClient, stop_when: dict[str, Any], field: str
) -> None:
    with pytest.raises(JudgeServiceError) as refused:
        client.create_run(
            unique("bad stop"), baseline="b", candidate="c", judges=["sim"], stop_when=stop_when
        )
    assert (refused.value.status_code, refused.value.field) == (422, field)
    with pytest.raises(JudgeServiceError) as also:
        client.compare(sample_pairs(2), judges=["sim"], stop_when=stop_when, wait=False)
    assert (also.value.status_code, also.value.field) == (422, field)


def test_the_rule_is_sent_by_every_way_of_making_a_run(stack: Stack, client: JudgeClient) -> None:
    made = client.create_run(
        unique("stop"), baseline="b", candidate="c", judges=["sim"], stop_when={"excludes": 0.5}
    )
    assert made.info["stop_when"] == {**RULE, "excludes": 0.5, "half_width": None}
    compared = client.compare(
        sample_pairs(3),
        judges=["sim"],
        name=unique("stop"),
        wait=False,
        progress=False,
        stop_when={"half_width": 0.05, "confidence": 0.9},
    )
    assert compared.info["stop_when"] == {
        **RULE,
        "excludes": None,
        "half_width": 0.05,
        "confidence": 0.9,
    }
    assert (
        client.create_run(unique("no stop"), baseline="b", candidate="c", judges=["sim"]).info[
            "stop_when"
        ]
        is None
    )

    async def make_async() -> dict[str, Any]:
        async with AsyncJudgeClient(str(stack.api.base_url), backoff=0.01) as aclient:
            run = await aclient.create_run(
                unique("stop"),
                baseline="b",
                candidate="c",
                judges=["sim"],
                stop_when={"half_width": 0.03},
            )
            return run.info["stop_when"]

    assert asyncio.run(make_async()) == {**RULE, "excludes": None, "half_width": 0.03}


def test_submit_stops_once_decided_and_counts_the_skipped(
    stack: Stack, client: JudgeClient, tmp_path: Path
) -> None:
    source = tmp_path / "pairs.jsonl"
    write_jsonl(source, pairs_with_truth(PAIRS))
    submit = ["submit", str(source), "--baseline", "base", "--candidate", "tuned"]
    submit += ["--judge", "sim", "--name", unique("stop cli")]
    both = _cli(stack, *submit, "--stop-excludes", "0.5", "--stop-half-width", "0.03")
    assert both.returncode == 1 and "give exactly one of excludes and half_width" in both.stderr

    stack.start_worker()
    done = _cli(stack, *submit, "--stop-excludes", "0.5", "--wait")
    assert done.returncode == 0, done.stderr
    match = re.search(r"^run (\d+) ", done.stdout, re.MULTILINE)
    assert match, done.stdout
    api = stack.api.get(f"/v1/runs/{match[1]}").json()
    counts = api["counts"]
    assert api["status"] == "done" and api["stop_reason"]
    assert api["stop_when"] == {**RULE, "excludes": 0.5, "half_width": None}
    assert counts["judgments_skipped"] > 0
    judged = f"{counts['judgments_done']}/{2 * PAIRS} judged, {counts['judgments_failed']} failed"
    skipped = f"{counts['judgments_skipped']} skipped (stopped once decided)"
    assert f"done, {judged}, {skipped}" in done.stdout

    run = client.run(int(match[1]))
    assert run.counts.judgments_skipped == counts["judgments_skipped"]
    assert run.counts.judgments_finished == run.counts.judgments_expected == 2 * PAIRS
    assert run.info.finished and run.info["stop_reason"] == api["stop_reason"]

    status = _cli(stack, "status", match[1])
    assert status.returncode == 0, status.stderr
    assert f"status: done; {PAIRS} pairs; {judged}, {skipped}" in status.stdout
    assert f"stopped: {api['stop_reason']}" in status.stdout
    assert _json(_cli(stack, "status", match[1], "--json")) == api
