"""A run's panel credits in the order its pairs got their outcome: the stop rule's sequence.

A pair has its outcome once its last judge call is stored, so the order is each complete
pair's latest `finished_at` (ties by pair id). The outcomes are the ones `GET /stats` counts
(`pair_outcome_table`), so the sequence and the figures agree on every pair.
"""

from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from judge_service.db.models import Judgment, JudgmentStatus, Run
from judge_service.db.run_frame import load_run_frame
from judge_service.stats.preference import LOSS, NO_OUTCOME, WIN
from judge_service.stats.report import pair_outcome_table


@dataclass(frozen=True)
class CreditSequence:
    credits: np.ndarray  # float64 in [0, 1], in the order the pairs got their outcome
    finished_at: list[datetime]  # when each got it


def load_credit_sequence(session: Session, run: Run) -> CreditSequence:
    frame, pair_ids = load_run_frame(session, run)
    _, panel = pair_outcome_table(frame)
    complete = panel != NO_OUTCOME
    if not complete.any():
        return CreditSequence(np.zeros(0), [])
    finished: dict[int, datetime] = {}
    for pair_id, at in session.execute(
        select(Judgment.pair_id, func.max(Judgment.finished_at))
        .where(Judgment.run_id == run.id, Judgment.status == JudgmentStatus.DONE)
        .group_by(Judgment.pair_id)
    ):
        assert at is not None  # a done judgment always has its finish time (jobs/claims.py)
        finished[pair_id] = at
    ids = pair_ids[complete].tolist()
    outcomes = panel[complete]
    credits = np.where(outcomes == WIN, 1.0, np.where(outcomes == LOSS, 0.0, 0.5))
    order = sorted(range(len(ids)), key=lambda i: (finished[ids[i]], ids[i]))
    return CreditSequence(credits[order], [finished[ids[i]] for i in order])
