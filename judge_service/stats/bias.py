"""Judge bias diagnostics: slot preference, length preference, length-controlled win rate.

Definitions and their limits are in docs/statistics.md ("Bias diagnostics").
"""

from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from judge_service.stats.bootstrap import percentile_interval, resample
from judge_service.stats.preference import LOSS, WIN, wilson_interval


@dataclass(frozen=True)
class Rate:
    """A proportion with its Wilson interval; `rate` is None when `n` is 0."""

    rate: float | None
    ci: tuple[float, float] | None
    n: int


def _rate(successes: int, n: int, confidence: float) -> Rate:
    if n == 0:
        return Rate(None, None, 0)
    return Rate(successes / n, wilson_interval(successes, n, confidence), n)


def first_slot_rate(verdict: np.ndarray, order: np.ndarray, confidence: float = 0.95) -> Rate:
    """Share of decisive order-level verdicts that name whatever sits in slot A.

    `verdict` holds candidate-side signs (1, -1, 0) and `order` 0 when the baseline was in
    slot A. Slot A is the baseline in order 0 and the candidate in order 1. Unidentifiable
    when the decisive verdicts all come from one order (slot and model coincide): then n = 0.
    """
    decisive = verdict != 0
    if not decisive.any():
        return Rate(None, None, 0)
    orders_seen = order[decisive]
    if orders_seen.min() == orders_seen.max():
        return Rate(None, None, 0)
    named_a = ((order == 0) & (verdict < 0)) | ((order == 1) & (verdict > 0))
    return _rate(int(np.count_nonzero(named_a & decisive)), int(decisive.sum()), confidence)


def longer_preferred_rate(
    outcome: np.ndarray,
    baseline_len: np.ndarray,
    candidate_len: np.ndarray,
    confidence: float = 0.95,
) -> Rate:
    """Share of decisive pairs, among those whose traces differ in length, won by the longer."""
    diff = candidate_len.astype(np.int64) - baseline_len.astype(np.int64)
    usable = ((outcome == WIN) | (outcome == LOSS)) & (diff != 0)
    longer_won = usable & ((outcome == WIN) == (diff > 0))
    return _rate(int(longer_won.sum()), int(usable.sum()), confidence)


def length_feature(baseline_len: np.ndarray, candidate_len: np.ndarray) -> np.ndarray | None:
    """tanh of the standardised length difference (AlpacaEval's bounded feature).

    None when the difference does not vary (all lengths equal, or a constant gap): the
    model then has nothing to separate from the intercept.
    """
    diff = candidate_len.astype(np.float64) - baseline_len.astype(np.float64)
    if diff.size < 2:
        return None
    scale = float(diff.std())
    if not scale > 0:
        return None
    return np.tanh(diff / scale)


def fit_logistic(
    x: np.ndarray, y: np.ndarray, *, max_iter: int = 30, tol: float = 1e-10
) -> tuple[float, float] | None:
    """Intercept and slope maximising the Bernoulli log-likelihood of y in [0, 1] on x.

    Newton's method; fractional y (half-credit pairs) is the quasi-binomial fit. None when
    it does not converge (complete separation: the slope runs off to infinity).
    """
    mean = float(y.mean())
    beta = np.array([np.log(mean / (1 - mean)), 0.0])
    xy, sum_y = float(x @ y), float(y.sum())
    for _ in range(max_iter):
        p = expit(beta[0] + beta[1] * x)
        w = p * (1 - p)
        grad = np.array([sum_y - p.sum(), xy - float(x @ p)])
        wx = w * x
        hess = np.array([[w.sum(), wx.sum()], [wx.sum(), float(wx @ x)]])
        try:
            step = np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError:
            return None
        beta = beta + step
        if not np.all(np.isfinite(beta)):
            return None
        if np.max(np.abs(step)) < tol * (1 + np.max(np.abs(beta))):
            return (float(beta[0]), float(beta[1]))
    return None


def length_controlled_win_rate(
    credit: np.ndarray, baseline_len: np.ndarray, candidate_len: np.ndarray
) -> float | None:
    """The half-credit win rate predicted for traces of equal length.

    logit P(candidate preferred) = a + b * tanh(d / sd(d)), d = candidate - baseline length,
    fitted on the pairs' credit (1, 0.5, 0); the answer is sigmoid(a), the prediction at
    d = 0 (Dubois et al. 2024, without their per-instruction term). Without length variation
    it falls back to the plain mean credit (= win_rate); None for no pairs or separation.
    """
    if credit.size == 0:
        return None
    mean = float(credit.mean())
    feature = length_feature(baseline_len, candidate_len)
    if feature is None or mean in (0.0, 1.0):
        return mean
    fit = fit_logistic(feature, credit)
    return None if fit is None else float(expit(fit[0]))


# The figure is the fit's prediction at d = 0. With (almost) every pair on one side of 0 that
# prediction is an extrapolation set by the curvature of tanh and a handful of pairs: a
# length-blind judge with the candidate always ~2x longer moved it between 0.72 and 0.95
# across repeats (issue 22). Fewer than 5 pairs, or under 5% of the pairs, on the minority
# side is too few; pairs of equal length count on both sides, since they sit at d = 0.
MIN_MINORITY_PAIRS = 5
MIN_MINORITY_SHARE = 0.05
# The interval refits the model per round on pairs grouped by (credit, d); beyond this many
# distinct d, d is rounded to the mean of its quantile bin so the cost stays bounded (1,000
# rounds on 10,000 pairs: 32 ms at 64 bins, 141 ms at 256; the interval moved < 0.001).
_MAX_LENGTH_BINS = 64


@dataclass(frozen=True)
class LengthControlled:
    """The length-controlled win rate, its bootstrap interval, or why there is none."""

    rate: float | None
    ci: tuple[float, float] | None
    reason: str | None


def length_control_reason(baseline_len: np.ndarray, candidate_len: np.ndarray) -> str | None:
    """Why the prediction at equal length would be an extrapolation, or None when it is not."""
    diff = candidate_len.astype(np.int64) - baseline_len.astype(np.int64)
    minority = min(int(np.count_nonzero(diff >= 0)), int(np.count_nonzero(diff <= 0)))
    needed = max(MIN_MINORITY_PAIRS, MIN_MINORITY_SHARE * diff.size)
    if minority < needed:
        return (
            f"only {minority} of {diff.size} pairs have the minority sign of the length "
            f"difference (needs {MIN_MINORITY_PAIRS} and {MIN_MINORITY_SHARE:.0%})"
        )
    return None


def _bootstrap_fits(
    x: np.ndarray, y: np.ndarray, w: np.ndarray, *, max_iter: int = 30, tol: float = 1e-10
) -> np.ndarray:
    """sigmoid(intercept) of the weighted fit of each round (rows of x, w); NaN if unfitted.

    `fit_logistic` vectorised over rounds, with the 2x2 Newton step solved in closed form.
    """
    n = w.sum(axis=1)
    mean = (w @ y) / n
    fitted = (mean > 0) & (mean < 1)
    a = np.log(np.where(fitted, mean, 0.5) / np.where(fitted, 1 - mean, 0.5))
    b = np.zeros_like(a)
    done = ~fitted
    wy, wxy = w @ y, np.einsum("rg,rg,g->r", w, x, y)
    for _ in range(max_iter):
        p = expit(a[:, None] + b[:, None] * x)
        wp = w * p
        v = wp * (1 - p)
        vx = v * x
        h00, h01, h11 = v.sum(axis=1), vx.sum(axis=1), np.einsum("rg,rg->r", vx, x)
        g0, g1 = wy - wp.sum(axis=1), wxy - np.einsum("rg,rg->r", wp, x)
        with np.errstate(divide="ignore", invalid="ignore"):
            det = h00 * h11 - h01 * h01
            step_a = (h11 * g0 - h01 * g1) / det
            step_b = (h00 * g1 - h01 * g0) / det
        active = ~done
        a = np.where(active, a + step_a, a)
        b = np.where(active, b + step_b, b)
        bad = active & ~(np.isfinite(a) & np.isfinite(b))
        fitted &= ~bad
        a, b = np.where(bad, 0.0, a), np.where(bad, 0.0, b)  # keep NaN out of later steps
        small = np.maximum(np.abs(step_a), np.abs(step_b)) < tol * (
            1 + np.maximum(np.abs(a), np.abs(b))
        )
        done |= bad | (active & small)
        if done.all():
            break
    fitted &= done
    rate = np.where(fitted, expit(np.where(fitted, a, 0.0)), np.nan)
    # A round whose credits are all 1 or all 0 has that rate whatever the lengths.
    return np.where((mean == 0) | (mean == 1), mean, rate)


def _length_groups(
    credit: np.ndarray, diff: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs grouped by (credit, d): each group's size, credit and d (binned when many)."""
    values, inverse = np.unique(diff, return_inverse=True)
    inverse = inverse.reshape(-1)
    if values.size > _MAX_LENGTH_BINS:
        edges = np.quantile(diff, np.linspace(0, 1, _MAX_LENGTH_BINS + 1)[1:-1])
        inverse = np.searchsorted(edges, diff, side="right")
        values = np.bincount(inverse, weights=diff) / np.maximum(np.bincount(inverse), 1)
    code = np.round(credit * 2).astype(np.int64)  # 0, 1, 2
    keys, counts = np.unique(inverse * 3 + code, return_counts=True)
    return counts, (keys % 3) / 2, values[keys // 3]


def length_controlled(
    credit: np.ndarray,
    baseline_len: np.ndarray,
    candidate_len: np.ndarray,
    *,
    rounds: int,
    seed: int,
    confidence: float,
) -> LengthControlled:
    """`length_controlled_win_rate` with a percentile bootstrap over pairs, or a reason.

    None with a reason when too few pairs sit on the minority side of d = 0 (see
    MIN_MINORITY_PAIRS). Each round refits the model, sd(d) included, on a resample of pairs.
    """
    if credit.size == 0:
        return LengthControlled(None, None, None)
    reason = length_control_reason(baseline_len, candidate_len)
    if reason is not None:
        return LengthControlled(None, None, reason)
    rate = length_controlled_win_rate(credit, baseline_len, candidate_len)
    if rate is None:
        return LengthControlled(None, None, "the fit does not converge (complete separation)")
    if rounds <= 0:
        return LengthControlled(rate, None, None)
    diff = candidate_len.astype(np.float64) - baseline_len.astype(np.float64)
    counts, group_credit, group_diff = _length_groups(credit, diff)
    w = resample(counts, rounds, seed).astype(np.float64)
    n = float(credit.size)
    sd = np.sqrt(np.maximum((w @ group_diff**2) / n - ((w @ group_diff) / n) ** 2, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.where(sd[:, None] > 0, np.tanh(group_diff[None, :] / sd[:, None]), 0.0)
    # A round without length variation has nothing to control for: its rate is the mean.
    fits = np.where(sd > 0, _bootstrap_fits(x, group_credit, w), (w @ group_credit) / n)
    return LengthControlled(rate, percentile_interval(fits, confidence), None)
