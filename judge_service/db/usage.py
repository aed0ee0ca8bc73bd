"""What judge calls used: calls, tokens and latency per judge, per run or over every run."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from judge_service.db.models import Judgment, JudgmentStatus

# Finished calls, done or failed: each was paid for.
FINISHED = Judgment.status.in_([JudgmentStatus.DONE, JudgmentStatus.FAILED])


def _calls_and_tokens() -> tuple[Any, ...]:
    """The aggregates both views share: calls, input tokens, output tokens."""
    return (
        func.count(),
        func.coalesce(func.sum(Judgment.input_tokens), 0),
        func.coalesce(func.sum(Judgment.output_tokens), 0),
    )


@dataclass(frozen=True)
class JudgeUsage:
    calls: int
    input_tokens: int
    output_tokens: int
    mean_latency_ms: float | None
    last_finished_at: datetime | None


def judge_usage(session: Session, run_ids: Sequence[int]) -> dict[int, dict[str, JudgeUsage]]:
    """Per run, per judge; one grouped query for a whole page of runs."""
    if not run_ids:
        return {}
    rows = session.execute(
        select(
            Judgment.run_id,
            Judgment.judge,
            *_calls_and_tokens(),
            func.avg(Judgment.latency_ms),
            func.max(Judgment.finished_at),
        )
        .where(Judgment.run_id.in_(run_ids), FINISHED)
        .group_by(Judgment.run_id, Judgment.judge)
    ).all()
    usage: dict[int, dict[str, JudgeUsage]] = {run_id: {} for run_id in run_ids}
    for run_id, judge, calls, tokens_in, tokens_out, latency, last in rows:
        usage[run_id][judge] = JudgeUsage(
            calls=calls,
            input_tokens=int(tokens_in),
            output_tokens=int(tokens_out),
            mean_latency_ms=float(latency) if latency is not None else None,
            last_finished_at=last,
        )
    return usage


@dataclass(frozen=True)
class JudgeTotals:
    """A judge's finished calls over every run, with a histogram of their latencies."""

    calls: int
    input_tokens: int
    output_tokens: int
    latency_count: int  # calls with a latency: one that never got an answer has none
    latency_sum_ms: int
    latency_at_most: tuple[int, ...]  # calls with latency <= each bound, cumulative


def judge_totals(session: Session, latency_bounds_ms: Sequence[int]) -> dict[str, JudgeTotals]:
    """Per judge over every run and project, in one grouped query: no row leaves the database."""
    latency = Judgment.latency_ms
    rows = session.execute(
        select(
            Judgment.judge,
            *_calls_and_tokens(),
            func.count(latency),
            func.coalesce(func.sum(latency), 0),
            *(func.count(case((latency <= bound, 1))) for bound in latency_bounds_ms),
        )
        .where(FINISHED)
        .group_by(Judgment.judge)
    ).all()
    return {
        judge: JudgeTotals(
            calls=calls,
            input_tokens=int(tokens_in),
            output_tokens=int(tokens_out),
            latency_count=latency_count,
            latency_sum_ms=int(latency_sum),
            latency_at_most=tuple(buckets),
        )
        for judge, calls, tokens_in, tokens_out, latency_count, latency_sum, *buckets in rows
    }
