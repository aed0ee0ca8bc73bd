"""A finished run's figures as a planning pilot: outcome shares, judge error, tokens per call."""

from dataclasses import dataclass

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from judge_service.db.models import Judgment, JudgmentStatus, Run
from judge_service.db.run_frame import load_human_labels, load_run_frame
from judge_service.stats.planning import judge_error
from judge_service.stats.preference import INCONSISTENT, NO_OUTCOME, TIE
from judge_service.stats.report import pair_credit, pair_outcome_table


@dataclass(frozen=True)
class Pilot:
    run_id: int
    judges: list[str]
    pairs: int  # with a panel outcome
    win_rate: float | None  # the panel's half-credit win rate; None without a pair
    half_share: float | None  # ties and order-inconsistent pairs
    judge_error: float | None  # mean squared credit error against people
    labelled_pairs: int  # pairs with a panel outcome and a person's label
    tokens: dict[str, tuple[float, float]]  # judge -> mean (prompt, output) tokens per call


def load_pilot(session: Session, run: Run) -> Pilot:
    frame, pair_ids = load_run_frame(session, run)
    _, panel = pair_outcome_table(frame)
    decided = panel != NO_OUTCOME
    pairs = int(decided.sum())
    error, labelled = judge_error(panel, load_human_labels(session, run, pair_ids))
    halves = int(((panel == TIE) | (panel == INCONSISTENT)).sum())
    return Pilot(
        run_id=run.id,
        judges=list(run.judges),
        pairs=pairs,
        win_rate=float(np.nanmean(pair_credit(panel))) if pairs else None,
        half_share=halves / pairs if pairs else None,
        judge_error=error,
        labelled_pairs=labelled,
        tokens=_mean_tokens(session, run.id),
    )


def _mean_tokens(session: Session, run_id: int) -> dict[str, tuple[float, float]]:
    """Each judge's mean prompt and output tokens over its done, really called judgments."""
    rows = session.execute(
        select(Judgment.judge, func.avg(Judgment.input_tokens), func.avg(Judgment.output_tokens))
        .where(
            Judgment.run_id == run_id,
            Judgment.status == JudgmentStatus.DONE,
            Judgment.cached_from_id.is_(None),
            Judgment.input_tokens.is_not(None),
            Judgment.output_tokens.is_not(None),
        )
        .group_by(Judgment.judge)
    ).all()
    return {judge: (float(prompt), float(output)) for judge, prompt, output in rows}
