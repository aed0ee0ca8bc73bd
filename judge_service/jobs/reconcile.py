"""Queue again what the database says is unfinished and no live job holds.

Redis may lose a job (flushed, restarted) and a worker may die holding claims;
the database still has every judgment. A row's `lease_expires_at` says until
when whoever holds it is presumed alive: for a running row the worker's claim
(renewed by its live job's heartbeat, `jobs/heartbeat.py`), for a pending row the
queued job that carries it (or, never leased, a lease after the row was created).
Past that, the reconciler queues the row again.

It marks the rows it queues with a conditional UPDATE in the same transaction
as the dispatch, so reconcilers running at once (every worker runs one, the
CLI another) queue each row once, and a failed dispatch marks nothing. Runs in
batch mode are left alone: their judgments are never queued as live calls
(`jobs/batch_mode.py` sends them, and takes back what a lost batch held). A stopped run's
left-over judgments are marked skipped instead (`jobs/stopping.py`).
"""

import logging
from datetime import timedelta

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from judge_service.db.models import Judgment, JudgmentStatus, Run, RunMode, utcnow
from judge_service.jobs.claims import claimable, run_open
from judge_service.jobs.dispatch import Dispatcher
from judge_service.jobs.stopping import skip_left_over

log = logging.getLogger(__name__)


def _stale(lease_s: int) -> ColumnElement[bool]:
    """Unfinished, and its claim or its queued job has outlived the lease."""
    now = utcnow()
    never_leased = and_(
        Judgment.lease_expires_at.is_(None), Judgment.created_at < now - timedelta(seconds=lease_s)
    )
    unfinished = Judgment.status.in_([JudgmentStatus.PENDING, JudgmentStatus.RUNNING])
    return unfinished & or_(Judgment.lease_expires_at < now, never_leased)


def reconcile(
    sessions: sessionmaker[Session],
    dispatcher: Dispatcher,
    lease_s: int,
    run_id: int | None = None,
    *,
    everything: bool = False,
) -> int:
    """Queue stale unfinished pairs again (`everything`: all not under a live claim).

    Returns how many pairs were queued. Their rows become pending under a fresh
    queue lease, so the next reconcile leaves them to the job just queued.
    """
    now = utcnow()
    # Open runs either way: a run that spent its budget is resumed by raising it; a stopped
    # run's left-overs (pairs posted after the stop, calls of a worker that died) are skipped.
    condition = claimable(now) if everything else _stale(lease_s) & run_open()
    condition &= Judgment.run_id.in_(select(Run.id).where(Run.mode == RunMode.LIVE))
    if run_id is not None:
        condition &= Judgment.run_id == run_id
    with sessions.begin() as session:
        skip_left_over(session)
        rows = session.execute(
            update(Judgment)
            .where(condition)
            .values(
                status=JudgmentStatus.PENDING,
                claim_token=None,
                lease_expires_at=now + timedelta(seconds=lease_s),
            )
            .returning(Judgment.run_id, Judgment.pair_id)
            .execution_options(synchronize_session=False)
        ).all()
        by_run: dict[int, set[int]] = {}
        for row_run, pair_id in rows:
            by_run.setdefault(row_run, set()).add(pair_id)
        unique = sorted({pair_id for _run, pair_id in rows})
        # Inside the transaction: if the queue refuses, the rows stay as they were.
        dispatcher.dispatch(unique)
    for row_run, pairs in sorted(by_run.items()):
        log.info(
            "queued %d pairs again",
            len(pairs),
            extra={"run_id": row_run, "pair_ids": sorted(pairs)},
        )
    return len(unique)
