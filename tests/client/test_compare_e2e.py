"""A 1,000-row DataFrame compared end to end: Postgres, Redis, two real worker processes."""

import time

import pandas as pd
import pytest

from judge_service.client import JudgeClient
from judge_service.demo.sample import sample_pairs
from tests.client.conftest import unique
from tests.conftest import Stack

pytestmark = pytest.mark.slow

ROWS = 1000


def _notebook_frame() -> pd.DataFrame:
    """The sample as a researcher's frame: own column names, metadata as plain columns."""
    pairs = sample_pairs(ROWS)
    frame = pd.DataFrame(
        {
            "id": [p["external_id"] for p in pairs],
            "prompt": [p["question"] for p in pairs],
            "gold": [p["reference_answer"] for p in pairs],
            "base": [p["baseline_trace"] for p in pairs],
            "tuned": [p["candidate_trace"] for p in pairs],
        }
    )
    return frame.join(pd.DataFrame([p["metadata"] for p in pairs]))


@pytest.mark.timeout(900)
def test_a_thousand_row_dataframe(stack: Stack, client: JudgeClient) -> None:
    frame = _notebook_frame()
    stack.start_worker()
    stack.start_worker()
    started = time.monotonic()
    run = client.compare(
        frame,
        baseline="base",
        candidate="tuned",
        judges=["sim"],
        columns={"external_id": "id", "question": "prompt", "reference_answer": "gold"},
        name=unique("thousand"),
        chunk_size=400,
        timeout=600,  # a bound on the wait, not a speed target: a busy machine is slow
        progress=False,
    )
    elapsed = time.monotonic() - started
    print(f"1,000-row compare (create, upload, judge 2,000 calls, wait): {elapsed:.1f} s")

    assert run.status == "done" and run.upload is not None
    assert (run.upload.accepted, run.upload.requests) == (ROWS, 3)
    assert run.counts.pairs == ROWS
    assert run.counts.judgments_done == ROWS * 2 and run.counts.judgments_failed == 0
    assert stack.judge_calls() == ROWS * 2

    stats = run.stats()
    assert stats.raw == stack.api.get(f"/v1/runs/{run.id}/stats").json()
    assert stats.n == ROWS and stats.missing == 0
    # The sample's candidate is right far more often than its baseline.
    assert stats.win_rate is not None and stats.win_rate > 0.6
    low, high = stats.win_rate_ci or (0.0, 0.0)
    assert low < stats.win_rate < high

    pairs = run.pairs()
    assert len(pairs) == ROWS and pairs["external_id"].tolist() == frame["id"].tolist()
    assert (pairs["panel"] == "candidate").sum() == stats.wins
    assert (pairs["panel"] == "baseline").sum() == stats.losses
    assert pairs["meta.modality"].tolist() == frame["modality"].tolist()
    assert len(run.judgments()) == ROWS * 2
