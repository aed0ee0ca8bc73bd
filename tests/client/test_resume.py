"""An upload broken half-way resumes: no pair lost, none stored or judged twice.

The proxy breaks the third upload request of five (10 pairs each) and, in the
first two tests, then refuses everything, as a dead server would: `compare`
fails after its retries. A second `compare` with the same name, once the
network is back, must send exactly what the run lacks.
"""

import json
from collections import Counter

import pytest

from judge_service.client import JudgeClient, JudgeConnectionError
from judge_service.demo.sample import sample_pairs
from tests.client.conftest import Cut, CutMode, FaultyProxy, unique
from tests.conftest import Stack

JUDGES = ["sim", "sim-anthropic"]
PAIRS = 50
ORDERS = ("baseline_first", "candidate_first")


def _assert_judged_exactly_once(stack: Stack, run_id: int) -> None:
    counts = stack.api.get(f"/v1/runs/{run_id}").json()["counts"]
    expected = PAIRS * len(JUDGES) * len(ORDERS)
    assert counts == {
        "pairs": PAIRS,
        "judgments_expected": expected,
        "judgments_done": expected,
        "judgments_failed": 0,
        "failed_by_reason": {},
        "judgments_skipped": 0,
    }
    lines = stack.api.get(f"/v1/runs/{run_id}/judgments?format=jsonl").text.splitlines()
    keys = Counter(
        (record["external_id"], record["judge"], record["order"])
        for record in map(json.loads, lines)
    )
    assert set(keys.values()) == {1}
    assert set(keys) == {
        (pair["external_id"], judge, order)
        for pair in sample_pairs(PAIRS)
        for judge in JUDGES
        for order in ORDERS
    }
    assert stack.judge_calls() == expected  # the judge saw each (pair, judge, order) once


@pytest.mark.parametrize(
    ("mode", "stored_before_resume"),
    [("mid-request", 20), ("after-request", 30)],  # half a body is discarded; a whole one kept
)
def test_interrupted_upload_resumes_without_duplicates(
    stack: Stack, proxy: FaultyProxy, mode: CutMode, stored_before_resume: int
) -> None:
    stack.start_worker()
    name = unique(f"resume {mode}")
    proxy.cut = Cut(nth=3, mode=mode, then_down=True)
    with JudgeClient(proxy.url, retries=2, backoff=0.01) as client:
        with pytest.raises(JudgeConnectionError):
            client.compare(
                sample_pairs(PAIRS), judges=JUDGES, name=name, chunk_size=10, progress=False
            )
        assert proxy.cuts_done == 1
        (run,) = [r for r in stack.api.get("/v1/runs").json() if r["name"] == name]
        assert run["counts"]["pairs"] == stored_before_resume

        proxy.down = False  # the network is back
        resumed = client.compare(
            sample_pairs(PAIRS), judges=JUDGES, name=name, chunk_size=10, progress=False
        )
    assert resumed.id == run["id"]
    assert resumed.upload is not None
    assert resumed.upload.already_present == stored_before_resume
    assert resumed.upload.accepted == PAIRS - stored_before_resume
    assert resumed.upload.duplicates == 0
    assert resumed.upload.requests == (PAIRS - stored_before_resume + 9) // 10
    assert resumed.status == "done"
    _assert_judged_exactly_once(stack, run["id"])


def test_a_lost_answer_is_retried_within_the_same_call(stack: Stack, proxy: FaultyProxy) -> None:
    stack.start_worker()
    proxy.cut = Cut(nth=3, mode="after-request", then_down=False)
    with JudgeClient(proxy.url, retries=2, backoff=0.01) as client:
        run = client.compare(
            sample_pairs(PAIRS), judges=JUDGES, name=unique("retry"), chunk_size=10, progress=False
        )
    assert proxy.cuts_done == 1 and proxy.uploads == 6  # five chunks, the third sent twice
    assert run.upload is not None
    # The server stored the third chunk but its answer was lost, so the client never
    # counted it as accepted; the repeat found all ten there already.
    assert (run.upload.accepted, run.upload.duplicates, run.upload.requests) == (40, 10, 5)
    _assert_judged_exactly_once(stack, run.id)
