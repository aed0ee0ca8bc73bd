"""The label queue's draws and their labels: what the calibrated win rate is computed from."""

from collections.abc import Sequence

import numpy as np
from sqlalchemy import ColumnElement, and_, exists, func, select
from sqlalchemy.orm import Session

from judge_service.db.models import HumanLabel, Judgment, JudgmentStatus, LabelDraw, Run
from judge_service.stats.frame import VERDICT_CODES, LabelDraws

# A label's credit for the candidate, as the judge's outcome is credited.
CREDIT = {name: (code + 1) / 2 for name, code in VERDICT_CODES.items()}


def _labelled() -> ColumnElement[bool]:
    """A draw's label: its annotator's label of its pair."""
    return and_(
        HumanLabel.pair_id == LabelDraw.pair_id, HumanLabel.annotator == LabelDraw.annotator
    )


def load_label_draws(session: Session, run: Run, pair_ids: np.ndarray) -> LabelDraws:
    """Every draw of the run with its annotator's label (NaN until given), and ad-hoc labels."""
    draws = session.execute(
        select(LabelDraw.pair_id, HumanLabel.label, LabelDraw.probability, LabelDraw.population)
        .outerjoin(HumanLabel, _labelled())
        .where(LabelDraw.run_id == run.id)
        .order_by(LabelDraw.id)
    ).all()
    ad_hoc = session.scalars(
        select(HumanLabel.pair_id).where(
            HumanLabel.run_id == run.id,
            ~exists().where(
                LabelDraw.pair_id == HumanLabel.pair_id,
                LabelDraw.annotator == HumanLabel.annotator,
            ),
        )
    ).all()
    return LabelDraws(
        pair=np.searchsorted(pair_ids, np.array([d[0] for d in draws], dtype=np.int64)).astype(
            np.int32
        ),
        credit=np.array(
            [np.nan if d[1] is None else CREDIT[d[1]] for d in draws], dtype=np.float64
        ),
        probability=np.array([d[2] for d in draws], dtype=np.float64),
        population=np.array([d[3] for d in draws], dtype=np.int64),
        ad_hoc_pair=np.searchsorted(pair_ids, np.array(ad_hoc, dtype=np.int64)).astype(np.int32),
    )


def unfinished_judgments(session: Session, run: Run) -> int:
    """Judge calls of the run not yet done or failed: while any remain the population moves."""
    return (
        session.scalar(
            select(func.count())
            .select_from(Judgment)
            .where(
                Judgment.run_id == run.id,
                Judgment.status.in_((JudgmentStatus.PENDING, JudgmentStatus.RUNNING)),
            )
        )
        or 0
    )


def waiting_pairs(session: Session, run: Run, annotator: str) -> list[int]:
    """Pairs handed to this annotator and not labelled yet, oldest first, each once."""
    rows = session.scalars(
        select(LabelDraw.pair_id)
        .where(LabelDraw.run_id == run.id, LabelDraw.annotator == annotator)
        .where(~exists().where(_labelled()))
        .order_by(LabelDraw.id)
    ).all()
    return list(dict.fromkeys(rows))


def labelled_pairs(session: Session, run: Run, annotator: str) -> set[int]:
    return set(
        session.scalars(
            select(HumanLabel.pair_id).where(
                HumanLabel.run_id == run.id, HumanLabel.annotator == annotator
            )
        )
    )


def has_draw(session: Session, pair_id: int, annotator: str) -> bool:
    """Whether the queue handed this annotator this pair: their label is then a queue label."""
    return bool(
        session.scalar(
            select(exists().where(LabelDraw.pair_id == pair_id, LabelDraw.annotator == annotator))
        )
    )


def pair_labels(session: Session, run: Run) -> Sequence[tuple[int, str]]:
    """(pair id, label) of every human label of the run: what the design learns error sizes from."""
    return session.execute(
        select(HumanLabel.pair_id, HumanLabel.label).where(HumanLabel.run_id == run.id)
    ).all()
