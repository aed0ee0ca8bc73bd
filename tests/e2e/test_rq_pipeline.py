"""The whole path on PostgreSQL and Redis with a real `judge-service worker` process."""

import csv
import io
import json
from collections import Counter

import pytest

from judge_service.demo.sample import sample_pairs
from tests.conftest import Stack, create_run, wait_until_done

pytestmark = pytest.mark.slow


def _normal(answer: str) -> str:
    return answer.strip().lower().rstrip(".")


def test_fifty_pairs_hundred_judgments(stack: Stack) -> None:
    pg_api = stack.api
    run = create_run(pg_api, ["sim"])
    pairs = sample_pairs(50)
    accepted = pg_api.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": pairs}).json()
    assert accepted["accepted"] == 50
    stack.start_worker()
    stack.start_worker()

    done = wait_until_done(pg_api, run["id"])
    assert done["counts"] == {
        "pairs": 50,
        "judgments_expected": 100,
        "judgments_done": 100,
        "judgments_failed": 0,
        "failed_by_reason": {},
        "judgments_skipped": 0,
    }
    # Exactly one call per judgment reached the judge: nothing was judged twice.
    assert stack.judge_calls() == 100

    lines = pg_api.get(f"/v1/runs/{run['id']}/judgments?format=jsonl").text.splitlines()
    records = [json.loads(line) for line in lines]
    assert len(records) == 100
    per_pair = Counter(r["external_id"] for r in records)
    assert set(per_pair.values()) == {2}
    assert {(r["external_id"], r["order"]) for r in records} == {
        (p["external_id"], order) for p in pairs for order in ("baseline_first", "candidate_first")
    }
    assert all(r["status"] == "done" and r["attempts"] == 1 for r in records)

    # Swap mapping: the slot label read back through the order gives the stored verdict.
    for r in records:
        first = "baseline" if r["order"] == "baseline_first" else "candidate"
        second = "candidate" if first == "baseline" else "baseline"
        assert r["verdict"] == {"A": first, "B": second, "C": "tie"}[r["label"]]

    # The unbiased simulator prefers the trace matching the reference, in both orders.
    by_id = {p["external_id"]: p for p in pairs}
    for r in records:
        pair = by_id[r["external_id"]]
        ref = _normal(pair["reference_answer"])
        cand_ok = _normal(pair["candidate_trace"].splitlines()[-1].split(":", 1)[1]) == ref
        base_ok = _normal(pair["baseline_trace"].splitlines()[-1].split(":", 1)[1]) == ref
        if cand_ok and not base_ok:
            assert r["verdict"] == "candidate"
        if base_ok and not cand_ok:
            assert r["verdict"] == "baseline"

    stats = pg_api.get(f"/v1/runs/{run['id']}/stats").json()
    assert stats["n"] == 50 and stats["missing"] == 0
    assert stats["wins"] + stats["losses"] + stats["ties"] + stats["inconsistent"] == 50
    assert stats["position_consistency"] == 1.0  # an unbiased judge never flips
    assert stats["per_judge"]["sim"] == stats["panel"]
    assert stats["panel"]["win_rate"] == stats["win_rate"]
    low, high = stats["win_rate_ci"]
    assert low < stats["win_rate"] < high

    csv_rows = list(
        csv.DictReader(
            io.StringIO(
                pg_api.get(f"/v1/runs/{run['id']}/judgments", params={"format": "csv"}).text
            )
        )
    )
    assert len(csv_rows) == 100
    assert {row["verdict"] for row in csv_rows} <= {"baseline", "candidate", "tie"}

    # Resubmitting the same pairs adds nothing and calls no judge.
    again = pg_api.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": pairs}).json()
    assert (again["accepted"], again["duplicates"], again["jobs"]) == (0, 50, 0)
    assert pg_api.get(f"/v1/runs/{run['id']}").json()["counts"]["judgments_expected"] == 100
    assert stack.judge_calls() == 100


def test_two_judges_over_both_sdks(stack: Stack) -> None:
    pg_api = stack.api
    run = create_run(pg_api, ["sim", "sim-anthropic"])
    pg_api.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": sample_pairs(12)})
    stack.start_worker()
    done = wait_until_done(pg_api, run["id"])
    assert done["counts"]["judgments_done"] == 12 * 2 * 2
    stats = pg_api.get(f"/v1/runs/{run['id']}/stats").json()
    assert set(stats["per_judge"]) == {"sim", "sim-anthropic"}
    # Both wire formats reach the same simulated rule: the judges agree pair by pair.
    assert stats["per_judge"]["sim"] == stats["per_judge"]["sim-anthropic"]
    assert stats["n"] == 12
    assert stack.judge_calls() == 48
