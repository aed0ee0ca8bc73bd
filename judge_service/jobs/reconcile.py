"""Re-dispatch what the database says is unfinished: pending, or leased by a dead worker."""

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from judge_service.db.models import Judgment, utcnow
from judge_service.jobs.claims import claimable
from judge_service.jobs.dispatch import Dispatcher


def unfinished_pair_ids(sessions: sessionmaker[Session], run_id: int | None = None) -> list[int]:
    query = select(Judgment.pair_id).where(claimable(utcnow())).distinct()
    if run_id is not None:
        query = query.where(Judgment.run_id == run_id)
    with sessions() as session:
        return sorted(session.scalars(query).all())


def reconcile(
    sessions: sessionmaker[Session], dispatcher: Dispatcher, run_id: int | None = None
) -> int:
    """Dispatch every unfinished pair again; returns how many pairs."""
    pair_ids = unfinished_pair_ids(sessions, run_id)
    dispatcher.dispatch(pair_ids)
    return len(pair_ids)
