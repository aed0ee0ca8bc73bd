"""Stopping a run once its confidence sequence decides it, and skipping what is left.

Checked by the worker after a chunk's results are stored (`jobs/judge_pairs.py`): the only
moment a run's sequence changes, once per chunk rather than at every claim. Racing checks
are harmless: the stop is a conditional UPDATE of the run row (`stopped_at IS NULL`), so one
worker records it, and it skips the run's pending judgments in the same transaction. A
claim that races the skip either commits first (its rows are running: they finish and
count) or finds the rows no longer pending; after the commit the claim's run condition
(`claims.run_open`) refuses the run's rows outright.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from judge_service.db.engine import rows_matched
from judge_service.db.models import Judgment, JudgmentStatus, Run, utcnow
from judge_service.db.sequence import load_credit_sequence
from judge_service.stats.sequential import SequenceTrack, StopRule, decision, track

log = logging.getLogger(__name__)


def _left_over(now: datetime) -> ColumnElement[bool]:
    """Pending, or running under a lease that ran out (its worker died): never to be judged."""
    return or_(
        Judgment.status == JudgmentStatus.PENDING,
        and_(Judgment.status == JudgmentStatus.RUNNING, Judgment.lease_expires_at < now),
    )


def skip_left_over(session: Session, run_ids: Sequence[int] | None = None) -> int:
    """Mark the left-over judgments of stopped runs (these, or all) skipped; returns how many.

    Also what the reconciler does each interval, for pairs posted after the stop and for
    calls whose worker died after it.
    """
    stopped = select(Run.id).where(Run.stopped_at.is_not(None))
    if run_ids is not None:
        stopped = stopped.where(Run.id.in_(run_ids))
    now = utcnow()
    return rows_matched(
        session,
        update(Judgment)
        .where(Judgment.run_id.in_(stopped), _left_over(now))
        .values(status=JudgmentStatus.SKIPPED, claim_token=None, lease_expires_at=None)
        .execution_options(synchronize_session=False),
    )


@dataclass(frozen=True)
class RunSequence:
    """A run's rule and its sequence so far, as `GET /stats` and the dashboard show it."""

    rule: StopRule
    sequence: SequenceTrack
    stopped_pairs: int | None  # pairs that had an outcome when it stopped; None: not stopped


def sequential_figures(session: Session, run: Run) -> dict[str, Any] | None:
    """`GET /stats`'s `sequential`: the rule, the bounds now, and whether and why it stopped."""
    state = run_sequence(session, run)
    if state is None:
        return None
    bounds = state.sequence.last
    return {
        "rule": state.rule.as_json(),
        "confidence": state.rule.confidence,
        "pairs": state.sequence.pairs,
        "lower": bounds[0] if bounds else None,
        "upper": bounds[1] if bounds else None,
        "stopped": run.stopped_at is not None,
        "stopped_at": run.stopped_at,
        "stopped_pairs": state.stopped_pairs,
        "reason": run.stop_reason,
    }


def run_sequence(session: Session, run: Run) -> RunSequence | None:
    """The run's sequence, or None for a run without a stop rule."""
    if run.stop_when is None:
        return None
    rule = StopRule.of(run.stop_when)
    loaded = load_credit_sequence(session, run)
    stopped_pairs = None
    if run.stopped_at is not None:
        stopped_pairs = sum(1 for at in loaded.finished_at if at <= run.stopped_at)
    return RunSequence(rule, track(loaded.credits, rule), stopped_pairs)


def stop_decided(sessions: sessionmaker[Session], run_ids: Sequence[int]) -> list[int]:
    """Stop each of these runs whose rule holds now; returns the ids stopped by this call."""
    stopped = []
    with sessions.begin() as session:
        runs = session.scalars(
            select(Run).where(
                Run.id.in_(run_ids), Run.stop_when.is_not(None), Run.stopped_at.is_(None)
            )
        ).all()
        for run in runs:
            rule = StopRule.of(run.stop_when or {})
            reason = decision(track(load_credit_sequence(session, run).credits, rule), rule)
            if reason is None:
                continue
            won = session.execute(
                update(Run)
                .where(Run.id == run.id, Run.stopped_at.is_(None))
                .values(stopped_at=utcnow(), stop_reason=reason)
                .returning(Run.id)
                .execution_options(synchronize_session=False)
            ).first()
            if won is None:  # another worker stopped it first
                continue
            skipped = skip_left_over(session, [run.id])
            log.info(
                "run stopped: %s; %d judgments skipped",
                reason,
                skipped,
                extra={"run_id": run.id, "skipped": skipped},
            )
            stopped.append(run.id)
    return stopped
