"""Claims make a job delivered twice, or a worker that lost its lease, harmless."""

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session, sessionmaker

from judge_service.background import BackgroundServer
from judge_service.config import JudgeConfig, Settings
from judge_service.db.engine import session_factory
from judge_service.db.models import Judgment, JudgmentStatus, Run, utcnow
from judge_service.db.projects import default_project
from judge_service.db.queries import insert_pairs
from judge_service.jobs.claims import (
    Result,
    WorkItem,
    claim,
    release,
    run_open,
    store_many,
)
from judge_service.jobs.judge_pairs import interpret, judge_chunk
from judge_service.judging.prompt import render_prompt
from judge_service.judging.replies import JudgeReply
from judge_service.judging.verdicts import Order
from tests.conftest import simulator_stats


@pytest.fixture
def sessions(pg_settings: Settings) -> sessionmaker[Session]:
    return session_factory(pg_settings.database_url)


def make_pairs(sessions: sessionmaker[Session], count: int, judges: list[str]) -> list[int]:
    with sessions() as session:
        run = Run(
            project_id=default_project(session).id,
            name="claims",
            baseline="b",
            candidate="c",
            judges=judges,
            swap=True,
        )
        session.add(run)
        session.flush()
        pairs = [
            {
                "external_id": f"p{i}",
                "question": f"Question {i}?",
                "reference_answer": "alpha",
                "baseline_trace": f"Reasoning {i}.\nFinal answer: beta",
                "candidate_trace": f"Reasoning {i}.\nFinal answer: alpha",
                "image_urls": [],
                "meta": {},
            }
            for i in range(count)
        ]
        ids = list(insert_pairs(session, run, pairs).values())
        session.commit()
        return ids


def statuses(sessions: sessionmaker[Session], pair_ids: list[int]) -> list[str]:
    with sessions() as session:
        return list(session.scalars(select(Judgment.status).where(Judgment.pair_id.in_(pair_ids))))


def test_second_claim_gets_nothing_until_the_lease_runs_out(
    sessions: sessionmaker[Session],
) -> None:
    ids = make_pairs(sessions, 3, ["sim"])
    first = claim(sessions, ids, "token-1", lease_s=600, judges={})
    assert len(first) == 6
    assert {item.order for item in first} == set(Order)
    assert claim(sessions, ids, "token-2", lease_s=600, judges={}) == []

    with sessions.begin() as session:
        session.execute(
            update(Judgment)
            .where(Judgment.pair_id.in_(ids))
            .values(lease_expires_at=utcnow() - timedelta(seconds=1))
        )
    again = claim(sessions, ids, "token-3", lease_s=600, judges={})
    assert len(again) == 6
    # The worker that lost its lease can no longer write; the one holding it can, and in one
    # group each result is answered for itself.
    late = Result(JudgmentStatus.FAILED, error="late")
    assert store_many(sessions, "token-1", [(first[0], late)]) == [False]
    done = Result(JudgmentStatus.FAILED, error="x")
    # The second write of again[0] finds its claim already spent by the first.
    group = [(again[0], done), (again[0], late), (again[-1], done)]
    assert store_many(sessions, "token-3", group) == [True, False, True]


def test_release_returns_unfinished_work(sessions: sessionmaker[Session]) -> None:
    ids = make_pairs(sessions, 2, ["sim"])
    items = claim(sessions, ids, "token-r", lease_s=600, judges={})
    done = Result(JudgmentStatus.FAILED, error="x")
    assert store_many(sessions, "token-r", [(items[0], done)]) == [True]
    assert release(sessions, "token-r") == len(items) - 1
    assert sorted(statuses(sessions, ids)) == ["failed"] + ["pending"] * (len(items) - 1)


def test_a_chunk_judged_twice_calls_the_judge_once(
    sessions: sessionmaker[Session], pg_settings: Settings, simulator: BackgroundServer
) -> None:
    ids = make_pairs(sessions, 4, ["sim", "sim-anthropic"])
    before = simulator_stats(simulator)["requests"]
    first = judge_chunk(pg_settings, ids)
    second = judge_chunk(pg_settings, ids)
    assert (first.claimed, first.done, first.failed) == (16, 16, 0)
    assert second.claimed == 0
    assert simulator_stats(simulator)["requests"] - before == 16
    assert set(statuses(sessions, ids)) == {"done"}
    with sessions() as session:
        verdicts = set(
            session.scalars(select(Judgment.verdict).where(Judgment.pair_id.in_(ids))).all()
        )
    # Only the candidate matches the reference: an unbiased judge picks it in both orders.
    assert verdicts == {"candidate"}


def test_unconfigured_judge_fails_with_reason(
    sessions: sessionmaker[Session], pg_settings: Settings
) -> None:
    ids = make_pairs(sessions, 1, ["retired-judge"])
    summary = judge_chunk(pg_settings, ids)
    assert (summary.claimed, summary.failed) == (2, 2)
    with sessions() as session:
        errors = session.execute(
            select(Judgment.error_kind, Judgment.error).where(Judgment.pair_id.in_(ids))
        ).all()
    assert {kind for kind, _ in errors} == {"config_error"}
    assert all("retired-judge" in message for _, message in errors)


def _item(order: Order) -> WorkItem:
    return WorkItem(1, 1, 1, "sim", order, render_prompt("q", None, "a", "b"))


def test_reply_without_label_is_a_parse_failure_with_raw_text_kept() -> None:
    first = JudgeReply("I cannot decide.", 10, 5, 12, "m")
    second = JudgeReply("Still thinking.", 20, 6, 30, "m")
    result = interpret([first, second], _item(Order.CANDIDATE_FIRST))
    assert result.status is JudgmentStatus.FAILED
    assert result.error_kind == "parse_error"
    assert result.raw_response is not None
    assert "I cannot decide." in result.raw_response and "Still thinking." in result.raw_response
    assert (result.input_tokens, result.output_tokens, result.latency_ms) == (30, 11, 42)
    ok = interpret(
        [JudgeReply("...\noverall: [[A]]", 10, 5, 12, "m")], _item(Order.CANDIDATE_FIRST)
    )
    assert (ok.status, ok.label, ok.verdict) == (JudgmentStatus.DONE, "A", "candidate")


def test_a_group_of_results_is_written_in_two_statements(
    sessions: sessionmaker[Session],
) -> None:
    """One lock of the rows still held, one executemany: not a statement per result."""
    ids = make_pairs(sessions, 10, ["sim"])
    items = claim(sessions, ids, "token-g", lease_s=600, judges={})
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    engine = sessions.kw["bind"]
    event.listen(engine, "before_cursor_execute", count)
    try:
        done = Result(JudgmentStatus.DONE, label="A", verdict="candidate", input_tokens=1)
        assert store_many(sessions, "token-g", [(item, done) for item in items]) == [True] * 20
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == 2, statements
    assert statements[0].lstrip().startswith("SELECT") and "FOR UPDATE" in statements[0]
    assert statuses(sessions, ids) == ["done"] * 20


def test_a_runs_spend_stays_the_sum_of_its_judgments_costs_through_a_retry(
    sessions: sessionmaker[Session],
) -> None:
    """The budget reads the run's running total; a retried call replaces its old cost."""
    priced = JudgeConfig(
        provider="openai",
        model="m",
        api_key_env="UNUSED",
        input_usd_per_mtok=1.0,
        output_usd_per_mtok=4.0,
    )
    ids = make_pairs(sessions, 3, ["sim"])
    items = claim(sessions, ids, "token-s", lease_s=600, judges={"sim": priced})
    done = Result(JudgmentStatus.DONE, verdict="candidate", input_tokens=1_000, output_tokens=100)
    broken = Result(JudgmentStatus.FAILED, error_kind="parse_error", input_tokens=2_000)
    results = [(item, done) for item in items[:-1]] + [(items[-1], broken)]
    assert store_many(sessions, "token-s", results) == [True] * 6

    def spend() -> tuple[float, float]:
        with sessions() as session:
            run_id = items[0].run_id
            total = session.scalar(select(Run.spent_usd).where(Run.id == run_id))
            costs = session.scalars(select(Judgment.cost_usd).where(Judgment.run_id == run_id))
            return float(total or 0.0), sum(cost or 0.0 for cost in costs)

    # 5 x (1,000 in at $1/M + 100 out at $4/M) + 2,000 in at $1/M
    assert spend() == pytest.approx((5 * 0.0014 + 0.002, 5 * 0.0014 + 0.002))

    with sessions.begin() as session:  # what retry-failed does to the failed judgment
        session.execute(
            update(Judgment)
            .where(Judgment.id == items[-1].judgment_id)
            .values(status=JudgmentStatus.PENDING, claim_token=None, lease_expires_at=None)
        )
    (again,) = claim(sessions, ids, "token-t", lease_s=600, judges={"sim": priced})
    assert store_many(sessions, "token-t", [(again, done)]) == [True]
    assert spend() == pytest.approx((6 * 0.0014, 6 * 0.0014))


def test_the_claims_budget_check_reads_each_runs_total_not_its_judgments() -> None:
    """Summing a budgeted run's judgments at every claim grew with the run."""
    sql = str(run_open()).lower()
    assert "runs.spent_usd >= runs.budget_usd" in sql
    assert "sum(" not in sql and "judgments_1" not in sql
