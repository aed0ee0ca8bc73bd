"""What a run's judge calls used: calls, tokens and latency per judge."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from judge_service.db.models import Judgment, JudgmentStatus


@dataclass(frozen=True)
class JudgeUsage:
    calls: int  # finished calls, done or failed: each was paid for
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
            func.count(),
            func.coalesce(func.sum(Judgment.input_tokens), 0),
            func.coalesce(func.sum(Judgment.output_tokens), 0),
            func.avg(Judgment.latency_ms),
            func.max(Judgment.finished_at),
        )
        .where(
            Judgment.run_id.in_(run_ids),
            Judgment.status.in_([JudgmentStatus.DONE, JudgmentStatus.FAILED]),
        )
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
