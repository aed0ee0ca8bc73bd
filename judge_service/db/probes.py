"""What probes read from the database: a run's probe runs and its pairs' ids."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from judge_service.db.models import Pair, Run


def probe_runs(session: Session, source: Run) -> list[Run]:
    """The probe runs made from `source`, oldest first."""
    return list(session.scalars(select(Run).where(Run.probe_of == source.id).order_by(Run.id)))


def pair_ids(session: Session, run: Run) -> list[int]:
    """The run's pair ids in id order (the order a probe samples from)."""
    return list(session.scalars(select(Pair.id).where(Pair.run_id == run.id).order_by(Pair.id)))


def external_ids(session: Session, run: Run) -> list[str]:
    """The run's pairs' external ids in id order: the order of its statistics frame."""
    query = select(Pair.external_id).where(Pair.run_id == run.id).order_by(Pair.id)
    return list(session.scalars(query))
