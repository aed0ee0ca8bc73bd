"""A run's judgments as numpy columns: the one input shape of the statistics.

Columns rather than row objects because a run can hold millions of judge calls and every
figure is a handful of vectorised passes over them; the database loader
(`judge_service.db.run_frame`) and the tests build the same frame.
"""

from dataclasses import dataclass, field

import numpy as np

NO_VERDICT = -128  # verdict code of a judgment without a verdict (pending, failed, not judged)
VERDICT_CODES = {"candidate": 1, "baseline": -1, "tie": 0}
# Reasons with a fixed meaning; any other reason name is a failure kind (parse_error, ...).
PENDING = "pending"
SKIPPED = "skipped"
NOT_JUDGED = "criterion_not_judged"


@dataclass(frozen=True)
class RunFrame:
    """A run's judgments as columns: one entry per judge call.

    At most one row per (pair, judge, order), as the database guarantees; a (pair, judge,
    order) without a row counts as pending.
    """

    judges: list[str]
    n_pairs: int
    pair: np.ndarray  # int32, 0..n_pairs-1
    judge: np.ndarray  # int16, index into judges
    order: np.ndarray  # int8: 0 baseline in slot A (baseline_first), 1 candidate in slot A
    verdict: np.ndarray  # int8: 1 candidate, -1 baseline, 0 tie, NO_VERDICT
    strong: np.ndarray  # bool (5-level >> labels)
    reason: np.ndarray  # int16 index into `reasons` for NO_VERDICT rows; -1 otherwise
    reasons: list[str]
    baseline_len: np.ndarray  # int64 per pair, characters of the baseline trace
    candidate_len: np.ndarray  # int64 per pair
    orders: int  # 2 when swapped, else 1
    strong_weight: float = 3.0
    stratum: np.ndarray | None = None  # int32 per pair, index into `strata`
    strata: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class HumanLabels:
    """People's preferences on pairs; several annotators may label the same pair."""

    pair: np.ndarray  # int32 pair index
    annotator: np.ndarray  # int32 annotator index
    label: np.ndarray  # int8: 1 candidate, -1 baseline, 0 tie


@dataclass(frozen=True)
class LabelDraws:
    """The label queue's draws (see stats/calibrated.py) and the labels made outside it."""

    pair: np.ndarray  # int32 pair index of each draw
    credit: np.ndarray  # float64: the draw's label as the candidate's credit; NaN until labelled
    probability: np.ndarray  # float64: this pair's chance on this draw
    population: np.ndarray  # int64: pairs with a panel outcome when it was drawn
    ad_hoc_pair: np.ndarray  # int32 pair index of each label no draw asked for


NO_DRAWS = LabelDraws(
    pair=np.zeros(0, dtype=np.int32),
    credit=np.zeros(0),
    probability=np.zeros(0),
    population=np.zeros(0, dtype=np.int64),
    ad_hoc_pair=np.zeros(0, dtype=np.int32),
)


def row_reason(status: str, error_kind: str | None) -> str:
    """Why a judge call has no verdict: its failure kind, skipped, not judged, or pending."""
    if status == "failed":
        return error_kind or "failed"
    if status == "skipped":  # its run stopped once decided
        return SKIPPED
    return NOT_JUDGED if status == "done" else PENDING
