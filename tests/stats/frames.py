"""Small RunFrame builders for the statistics tests."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from judge_service.stats.frame import NO_VERDICT, VERDICT_CODES, RunFrame, row_reason

STRONG = 2  # in a grid, +-2 means a strong verdict
ABSENT = -1000


def grid_frame(
    verdicts: Sequence[Sequence[Sequence[int | None]]] | np.ndarray,
    *,
    baseline_len: Sequence[int] | np.ndarray | None = None,
    candidate_len: Sequence[int] | np.ndarray | None = None,
    strong_weight: float = 3.0,
    stratum: Sequence[int] | np.ndarray | None = None,
    strata: Sequence[str] = (),
    judges: Sequence[str] | None = None,
    orders: int = 2,
) -> RunFrame:
    """A frame from verdicts[judge][pair][order] in -2..2, NO_VERDICT (failed), None (no row).

    The number of orders is the grid's last dimension (`orders` when there are no pairs).
    """
    cube = np.array(
        [[[ABSENT if v is None else v for v in pair] for pair in j] for j in verdicts],
        dtype=np.int64,
    )
    if cube.ndim != 3:  # no pairs
        cube = cube.reshape(len(verdicts), 0, orders)
    n_judges, n_pairs, orders = cube.shape
    j, p, o = np.nonzero(cube != ABSENT)
    values = cube[j, p, o]
    failed = values == NO_VERDICT
    return RunFrame(
        judges=list(judges or [f"j{i}" for i in range(n_judges)]),
        n_pairs=n_pairs,
        pair=p.astype(np.int32),
        judge=j.astype(np.int16),
        order=o.astype(np.int8),
        verdict=np.where(failed, NO_VERDICT, np.sign(values)).astype(np.int8),
        strong=np.abs(values) == STRONG,
        reason=np.where(failed, 0, -1).astype(np.int16),
        reasons=["parse_error"],
        baseline_len=np.asarray(
            baseline_len if baseline_len is not None else np.zeros(n_pairs), dtype=np.int64
        ),
        candidate_len=np.asarray(
            candidate_len if candidate_len is not None else np.zeros(n_pairs), dtype=np.int64
        ),
        orders=orders,
        strong_weight=strong_weight,
        stratum=None if stratum is None else np.asarray(stratum, dtype=np.int32),
        strata=list(strata),
    )


def swap_roles(frame: RunFrame) -> RunFrame:
    """The same judgments with baseline and candidate renamed into each other.

    Verdicts flip sign, and the model in slot A changes name, so each order code flips too.
    """
    return RunFrame(
        judges=frame.judges,
        n_pairs=frame.n_pairs,
        pair=frame.pair,
        judge=frame.judge,
        order=(1 - frame.order).astype(np.int8),
        verdict=np.where(frame.verdict == NO_VERDICT, NO_VERDICT, -frame.verdict).astype(np.int8),
        strong=frame.strong,
        reason=frame.reason,
        reasons=frame.reasons,
        baseline_len=frame.candidate_len,
        candidate_len=frame.baseline_len,
        orders=frame.orders,
        strong_weight=frame.strong_weight,
        stratum=frame.stratum,
        strata=frame.strata,
    )


def subset(frame: RunFrame, pairs: np.ndarray) -> RunFrame:
    """The frame restricted to some pairs, renumbered in the given order."""
    new_index = np.full(frame.n_pairs, -1)
    new_index[pairs] = np.arange(pairs.size)
    keep = new_index[frame.pair] >= 0
    return RunFrame(
        judges=frame.judges,
        n_pairs=int(pairs.size),
        pair=new_index[frame.pair[keep]].astype(np.int32),
        judge=frame.judge[keep],
        order=frame.order[keep],
        verdict=frame.verdict[keep],
        strong=frame.strong[keep],
        reason=frame.reason[keep],
        reasons=frame.reasons,
        baseline_len=frame.baseline_len[pairs],
        candidate_len=frame.candidate_len[pairs],
        orders=frame.orders,
        strong_weight=frame.strong_weight,
    )


@dataclass(frozen=True)
class VerdictRow:
    """One judge call as a row object, the way the tests write them down."""

    pair_id: int
    judge: str
    order: str  # "baseline_first" or "candidate_first"
    verdict: str | None  # None unless the call is done and has a verdict on the criterion
    status: str = "done"
    error_kind: str | None = None
    strong: bool = False


def frame_from_rows(
    pair_ids: Sequence[int],
    rows: Iterable[VerdictRow],
    judges: Sequence[str],
    orders: int,
    *,
    baseline_len: Sequence[int] | None = None,
    candidate_len: Sequence[int] | None = None,
    strong_weight: float = 3.0,
    stratum: Sequence[str] | None = None,
) -> RunFrame:
    """A RunFrame from row objects; rows of pairs or judges not listed are ignored.

    Lengths default to 0 (no length information); `stratum` names each pair's stratum.
    """
    position = {pair_id: index for index, pair_id in enumerate(pair_ids)}
    judge_index = {name: index for index, name in enumerate(judges)}
    kept = [r for r in rows if r.pair_id in position and r.judge in judge_index]
    reasons: list[str] = []
    reason_codes: list[int] = []
    for row in kept:
        code = VERDICT_CODES.get(row.verdict or "") if row.status == "done" else None
        if code is None:
            name = row_reason(row.status, row.error_kind)
            if name not in reasons:
                reasons.append(name)
            reason_codes.append(reasons.index(name))
        else:
            reason_codes.append(-1)
    n = len(pair_ids)
    strata = sorted(set(stratum)) if stratum is not None else []
    return RunFrame(
        judges=list(judges),
        n_pairs=n,
        pair=np.array([position[r.pair_id] for r in kept], dtype=np.int32),
        judge=np.array([judge_index[r.judge] for r in kept], dtype=np.int16),
        order=np.array([r.order != "baseline_first" for r in kept], dtype=np.int8),
        verdict=np.array(
            [
                NO_VERDICT if code >= 0 else VERDICT_CODES[r.verdict or ""]
                for r, code in zip(kept, reason_codes, strict=True)
            ],
            dtype=np.int8,
        ),
        strong=np.array([r.strong for r in kept], dtype=bool),
        reason=np.array(reason_codes, dtype=np.int16),
        reasons=reasons,
        baseline_len=np.asarray(baseline_len if baseline_len is not None else [0] * n, np.int64),
        candidate_len=np.asarray(candidate_len if candidate_len is not None else [0] * n, np.int64),
        orders=orders,
        strong_weight=strong_weight,
        stratum=(
            np.array([strata.index(s) for s in stratum], dtype=np.int32)
            if stratum is not None
            else None
        ),
        strata=strata,
    )
