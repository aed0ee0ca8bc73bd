"""`POST /v1/runs/{id}/retry-failed`: failed calls judged again by a real worker, never twice."""

import pytest
from sqlalchemy import func, select, update

from judge_service.db.engine import session_factory
from judge_service.db.models import Judgment, JudgmentStatus, Run
from judge_service.demo.sample import sample_pairs
from tests.conftest import Stack, create_run, wait_until_done
from tests.test_cli import cli

pytestmark = pytest.mark.slow
PAIRS = 12


def _fail(stack: Stack, run_id: int, kinds: dict[str, int]) -> None:
    """Turn done judgments into failures of the given kinds, as a flaky provider would."""
    with session_factory(stack.settings.database_url)() as session:
        ids = iter(
            session.scalars(
                select(Judgment.id).where(Judgment.run_id == run_id).order_by(Judgment.id)
            ).all()
        )
        for kind, count in kinds.items():
            for _ in range(count):
                session.execute(
                    update(Judgment)
                    .where(Judgment.id == next(ids))
                    .values(
                        status=JudgmentStatus.FAILED,
                        verdict=None,
                        error_kind=kind,
                        error=f"simulated {kind}",
                    )
                )
        session.commit()


def _rows_per_call(stack: Stack, run_id: int) -> set[int]:
    with session_factory(stack.settings.database_url)() as session:
        return set(
            session.scalars(
                select(func.count())
                .where(Judgment.run_id == run_id)
                .group_by(Judgment.pair_id, Judgment.judge, Judgment.order)
            ).all()
        )


def test_failed_calls_are_judged_again_exactly_once(stack: Stack) -> None:
    run = create_run(stack.api, ["sim"])
    stack.api.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": sample_pairs(PAIRS)})
    stack.start_worker()
    wait_until_done(stack.api, run["id"])
    _fail(stack, run["id"], {"timeout": 3, "provider_error": 2})

    info = stack.api.get(f"/v1/runs/{run['id']}").json()
    assert info["counts"]["judgments_failed"] == 5
    assert info["counts"]["failed_by_reason"] == {"timeout": 3, "provider_error": 2}
    stats = stack.api.get(f"/v1/runs/{run['id']}/stats").json()
    assert sum(stats["missing_reasons"].values()) == stats["missing"] > 0

    calls = stack.judge_calls()
    only_timeouts = stack.api.post(
        f"/v1/runs/{run['id']}/retry-failed", params={"reason": "timeout"}
    )
    assert only_timeouts.status_code == 202
    assert only_timeouts.json()["requeued"] == 3 and only_timeouts.json()["jobs"] >= 1
    done = wait_until_done(stack.api, run["id"])
    assert done["counts"]["failed_by_reason"] == {"provider_error": 2}
    assert stack.judge_calls() == calls + 3  # the three timeouts, nothing else

    # The CLI retries the rest.
    result = cli("retry-failed", str(run["id"]), env={"JUDGE_URL": str(stack.api.base_url)})
    assert result.returncode == 0, result.stderr
    assert f"run {run['id']}: 2 failed before" in result.stdout
    done = wait_until_done(stack.api, run["id"])
    assert (
        done["counts"]["judgments_done"] == PAIRS * 2 and done["counts"]["failed_by_reason"] == {}
    )
    assert stack.judge_calls() == calls + 5
    assert _rows_per_call(stack, run["id"]) == {1}  # still one row per (pair, judge, order)

    nothing = stack.api.post(f"/v1/runs/{run['id']}/retry-failed").json()
    assert nothing == {"requeued": 0, "pairs": 0, "jobs": 0}


def test_refused_when_a_judge_changed_or_the_run_is_unknown(stack: Stack) -> None:
    run = create_run(stack.api, ["sim"])
    with session_factory(stack.settings.database_url)() as session:
        session.execute(
            update(Run).where(Run.id == run["id"]).values(judge_configs={"sim": {"model": "x"}})
        )
        session.commit()
    changed = stack.api.post(f"/v1/runs/{run['id']}/retry-failed")
    assert changed.status_code == 409 and "'sim'" in changed.json()["detail"]
    assert stack.api.post("/v1/runs/987654321/retry-failed").status_code == 404
    long_reason = stack.api.post(f"/v1/runs/{run['id']}/retry-failed", params={"reason": "x" * 41})
    assert long_reason.json()["detail"][0]["loc"] == ["query", "reason"]
