"""A run that stops once decided: real API, RQ workers, PostgreSQL, the simulated provider.

The simulated judge rules by the reference answer, so the pairs fix the truth: the candidate
alone answers right on 80% of them (a win), the baseline alone on 8% (a loss), and neither
on 12% (ruled by the judge's order-independent hash, half of them ties): a mean credit of
0.80 + 0.12 x 1/2 = 0.86. Provider requests are counted by the simulator itself.
"""

import re
from typing import Any

import numpy as np
import pytest

from tests.conftest import StackFactory, create_run, wait_until_done
from tests.e2e.test_judging import judge, judges_of, records

pytestmark = pytest.mark.slow
PAIRS = 1000


def pairs_with_truth(count: int, seed: int = 0) -> list[dict[str, Any]]:
    kinds = np.random.default_rng(seed).choice(3, size=count, p=[0.80, 0.08, 0.12])
    answers = {0: ("wrong", "right"), 1: ("right", "wrong"), 2: ("wrong", "also wrong")}
    pairs = []
    for i, kind in enumerate(kinds.tolist()):
        baseline, candidate = answers[kind]
        pairs.append(
            {
                "external_id": f"q{i}",
                "question": f"What is answer {i}?",
                "reference_answer": f"right {i}",
                "baseline_trace": f"Baseline reasoning on {i}.\nFinal answer: {baseline} {i}",
                "candidate_trace": f"Candidate reasoning on {i}.\nFinal answer: {candidate} {i}",
            }
        )
    return pairs


def test_a_decided_run_stops_and_never_sends_the_rest(stack_factory: StackFactory) -> None:
    stack = stack_factory(judges=judges_of(oa=lambda u: judge(u, "openai", "tie_rate=0.5")))
    run = create_run(stack.api, ["oa"], stop_when={"excludes": 0.5})
    posted = stack.api.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": pairs_with_truth(PAIRS)})
    assert posted.json()["accepted"] == PAIRS
    stack.start_worker()
    stack.start_worker()

    done = wait_until_done(stack.api, run["id"], timeout=180)
    counts = done["counts"]
    judged = counts["judgments_done"] + counts["judgments_failed"]
    assert done["status"] == "done" and done["stopped_at"] is not None
    assert judged + counts["judgments_skipped"] == 2 * PAIRS
    # Stopped after a small fraction of the pairs (both orders of a pair are judged together).
    assert judged <= 0.2 * 2 * PAIRS
    assert counts["judgments_skipped"] >= 0.8 * 2 * PAIRS
    # Every request the provider got is a judgment that counts: none was skipped.
    assert stack.judge_calls() == judged

    rows = records(stack.api, run["id"])
    skipped = [r for r in rows if r["status"] == "skipped"]
    assert len(skipped) == counts["judgments_skipped"]
    assert all(
        (r["input_tokens"], r["cost_usd"], r["verdict"], r["attempts"]) == (None, None, None, 0)
        for r in skipped
    )
    # A skipped pair's two orders are skipped together: the stop fell between chunks.
    by_pair: dict[str, set[str]] = {}
    for r in rows:
        by_pair.setdefault(r["external_id"], set()).add(r["status"])
    assert all(len(statuses) == 1 for statuses in by_pair.values())

    stats = stack.api.get(f"/v1/runs/{run['id']}/stats").raise_for_status().json()
    sequential = stats["sequential"]
    assert sequential["stopped"] is True and sequential["reason"] == done["stop_reason"]
    stopped_pairs = sequential["stopped_pairs"]
    reason = re.fullmatch(
        r"the 95% confidence sequence for win_rate excluded 0\.5 after (\d+) pairs: \[.*\]",
        done["stop_reason"],
    )
    assert reason, done["stop_reason"]
    # The reason counts what the deciding worker saw; `stopped_pairs` counts outcomes stamped
    # before the stop, which may include another worker's, committed a moment after it.
    # Calls in flight at the stop finished and count: the sequence has at least as many pairs.
    assert int(reason[1]) <= stopped_pairs <= sequential["pairs"] == stats["n"]
    assert 0.5 < sequential["lower"] <= stats["win_rate"] <= sequential["upper"]
    assert stats["missing_reasons"] == {"skipped": PAIRS - stats["n"]}
    assert 0.75 < stats["win_rate"] < 0.97
