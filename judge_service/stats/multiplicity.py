"""Many comparisons: Holm and Benjamini-Hochberg adjusted p-values across a table's rows.

A table of strata or axes tests each row; reading the smallest raw p-value of many rows as
if it were the only test overstates the evidence. Holm bounds the chance of any false
rejection in the table (family-wise error), Benjamini-Hochberg the expected share of false
rejections among those made (false discovery rate). Both match statsmodels' `multipletests`
("holm", "fdr_bh"); docs/statistics.md, "Many comparisons".
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values: the k-th smallest times (m - k + 1), kept monotone."""
    p = np.asarray(p_values, dtype=np.float64)
    order = np.argsort(p, kind="stable")
    scaled = p[order] * np.arange(p.size, 0, -1)
    adjusted = np.empty_like(p)
    adjusted[order] = np.minimum(np.maximum.accumulate(scaled), 1.0)
    return adjusted


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg step-up adjusted p-values: the k-th smallest times m / k, monotone."""
    p = np.asarray(p_values, dtype=np.float64)
    order = np.argsort(p, kind="stable")
    scaled = p[order] * p.size / np.arange(1, p.size + 1)
    adjusted = np.empty_like(p)
    adjusted[order] = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
    return adjusted


@dataclass(frozen=True)
class Adjusted:
    """A row's sign test adjusted across its table; null when the row has no sign test."""

    sign_test_p_holm: float | None
    sign_test_p_bh: float | None
    significant_holm: bool | None  # adjusted p <= 1 - confidence
    significant_bh: bool | None


def adjust(p_values: Sequence[float | None], alpha: float) -> list[Adjusted]:
    """Holm and BH across the rows that have a p-value; rows without one are not in the family."""
    raw = np.array([np.nan if p is None else p for p in p_values], dtype=np.float64)
    tested = np.flatnonzero(~np.isnan(raw))
    by_holm = holm(raw[tested])
    by_bh = benjamini_hochberg(raw[tested])
    rows = [Adjusted(None, None, None, None)] * raw.size
    for i, p_holm, p_bh in zip(tested.tolist(), by_holm.tolist(), by_bh.tolist(), strict=True):
        rows[i] = Adjusted(p_holm, p_bh, p_holm <= alpha, p_bh <= alpha)
    return rows
