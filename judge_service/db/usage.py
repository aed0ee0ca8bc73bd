"""What judge calls used: calls, tokens, cost and latency per judge, per run or over every run.

Cost is the judgments' stored `cost_usd` (priced when written). A judgment without one
(written before 0008, or while its judge had no prices) has its tokens priced at the
configured prices on read, so old runs still show a cost.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from judge_service.config import JudgeConfig
from judge_service.db.models import Judgment, JudgmentStatus

# Finished calls, done or failed: each was paid for.
FINISHED = Judgment.status.in_([JudgmentStatus.DONE, JudgmentStatus.FAILED])


UNPRICED = Judgment.cost_usd.is_(None)


def _calls_tokens_and_cost() -> tuple[Any, ...]:
    """The aggregates both views share: calls, tokens, then stored cost and unpriced tokens."""
    return (
        func.count(),
        func.coalesce(func.sum(Judgment.input_tokens), 0),
        func.coalesce(func.sum(Judgment.output_tokens), 0),
        func.coalesce(func.sum(Judgment.cost_usd), 0.0),
        func.count(case((UNPRICED, 1))),
        func.coalesce(func.sum(case((UNPRICED, Judgment.input_tokens))), 0),
        func.coalesce(func.sum(case((UNPRICED, Judgment.output_tokens))), 0),
    )


@dataclass(frozen=True)
class Spend:
    """Stored cost, and the calls stored without one (priced on read)."""

    stored_usd: float = 0.0
    unpriced_calls: int = 0
    unpriced_input_tokens: int = 0
    unpriced_output_tokens: int = 0

    def cost_usd(self, config: JudgeConfig | None) -> float | None:
        """Stored cost plus the unpriced calls' at `config`'s prices; None if they have none."""
        if not self.unpriced_calls:
            return self.stored_usd
        extra = (
            config.cost_usd(self.unpriced_input_tokens, self.unpriced_output_tokens)
            if config is not None
            else None
        )
        return None if extra is None else self.stored_usd + extra


def _spend(stored: float, calls: int, tokens_in: int, tokens_out: int) -> Spend:
    return Spend(float(stored), calls, int(tokens_in), int(tokens_out))


@dataclass(frozen=True)
class JudgeUsage:
    calls: int
    input_tokens: int
    output_tokens: int
    mean_latency_ms: float | None
    last_finished_at: datetime | None
    spend: Spend = Spend()


def judge_usage(session: Session, run_ids: Sequence[int]) -> dict[int, dict[str, JudgeUsage]]:
    """Per run, per judge; one grouped query for a whole page of runs."""
    if not run_ids:
        return {}
    rows = session.execute(
        select(
            Judgment.run_id,
            Judgment.judge,
            *_calls_tokens_and_cost(),
            func.avg(Judgment.latency_ms),
            func.max(Judgment.finished_at),
        )
        .where(Judgment.run_id.in_(run_ids), FINISHED)
        .group_by(Judgment.run_id, Judgment.judge)
    ).all()
    usage: dict[int, dict[str, JudgeUsage]] = {run_id: {} for run_id in run_ids}
    for run_id, judge, calls, tokens_in, tokens_out, *spent, latency, last in rows:
        usage[run_id][judge] = JudgeUsage(
            calls=calls,
            input_tokens=int(tokens_in),
            output_tokens=int(tokens_out),
            mean_latency_ms=float(latency) if latency is not None else None,
            last_finished_at=last,
            spend=_spend(*spent),
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
    spend: Spend = Spend()


def judge_totals(session: Session, latency_bounds_ms: Sequence[int]) -> dict[str, JudgeTotals]:
    """Per judge over every run and project, in one grouped query: no row leaves the database."""
    latency = Judgment.latency_ms
    rows = session.execute(
        select(
            Judgment.judge,
            *_calls_tokens_and_cost(),
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
            spend=_spend(stored, unpriced, unpriced_in, unpriced_out),
        )
        for (
            judge,
            calls,
            tokens_in,
            tokens_out,
            stored,
            unpriced,
            unpriced_in,
            unpriced_out,
            latency_count,
            latency_sum,
            *buckets,
        ) in rows
    }
