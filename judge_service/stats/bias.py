"""Judge bias diagnostics: slot preference, length preference, length-controlled win rate.

Definitions and their limits are in docs/statistics.md ("Bias diagnostics").
"""

from dataclasses import dataclass

import numpy as np
from scipy.special import expit

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
