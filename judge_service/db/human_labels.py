"""People's labels on pairs: one annotator's on a pair, and every label of a pair."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from judge_service.db.models import HumanLabel


def annotator_label(session: Session, pair_id: int, annotator: str) -> HumanLabel | None:
    """The annotator's label on the pair, if any (one each: a new one replaces it)."""
    query = select(HumanLabel).where(
        HumanLabel.pair_id == pair_id, HumanLabel.annotator == annotator
    )
    return session.scalars(query).first()


def pair_labels(session: Session, pair_id: int) -> list[HumanLabel]:
    """Every label of the pair, oldest first."""
    query = select(HumanLabel).where(HumanLabel.pair_id == pair_id).order_by(HumanLabel.id)
    return list(session.scalars(query))
