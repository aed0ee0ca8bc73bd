"""How many judged pairs and human labels a conclusion needs, worked out before any is made.

Every figure is about the candidate's credit on a pair: win 1, tie or order-inconsistent 1/2,
loss 0. With win share w, half-credit share h and mean credit m = w + h/2, a pair's credit
has variance v = w + h/4 - m² = m(1 - m) - h/4, and the judge-only interval on m with N pairs
has half-width z·√(v / N).

The calibrated interval (prediction-powered inference with PPI++ tuning, stats/calibrated.py)
adds m human labels on pairs drawn uniformly from the N judged ones. Its variance is

    var(Y) / N + var(Y - λf) / m,   λ = cov(Y, f) / var(f) clipped to [0, 1]

with f the judge's credit and Y a person's. The first term is that of people labelling all
N pairs: the calibrated interval is never narrower than that, so it needs more judged pairs
than the judge-only one for the same half-width. Planned, var(f) = var(Y) = v and var(Y - f)
is the judge error e (the mean squared difference between the two credits, its bias folded
in), so cov(Y, f) = v - e/2 and var(Y - λf) = v - cov²/v. Definitions: docs/statistics.md,
"Planning".
"""

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

from judge_service.stats.calibrated import MIN_LABELS
from judge_service.stats.frame import HumanLabels
from judge_service.stats.report import pair_credit

# The calibrated plan judges pairs enough that their own term takes this share of the
# variance budget, leaving the rest to the labels.
JUDGE_SHARE = 0.25


def z_value(confidence: float) -> float:
    return float(norm.ppf(0.5 + confidence / 2))


def credit_variance(win_rate: float, half_share: float) -> float:
    """Variance of one pair's credit, from its mean and the share of half credits."""
    return win_rate * (1 - win_rate) - half_share / 4


def _budget(half_width: float, z: float) -> float:
    """The largest variance of the estimate whose interval is within ±half_width."""
    return (half_width / z) ** 2


def pairs_needed(half_width: float, z: float, variance: float) -> int:
    """Pairs for the judge-only interval on the mean credit: z² v / half_width², rounded up."""
    return max(1, math.ceil(variance / _budget(half_width, z)))


def tuned_lambda(variance: float, judge_error: float) -> float:
    """PPI++'s weight of the judge: the regression of people's credit on the judge's."""
    cov = variance - judge_error / 2
    return min(1.0, max(0.0, cov / variance))


def residual_variance(variance: float, judge_error: float) -> float:
    """var(Y - λf) at the tuned λ: what each label's term contributes, per label."""
    lam = tuned_lambda(variance, judge_error)
    return variance - 2 * lam * (variance - judge_error / 2) + lam * lam * variance


def calibrated_variance(labels: int, pairs: int, variance: float, judge_error: float) -> float:
    """Variance of the calibrated estimate under the planning model (module docstring)."""
    return variance / pairs + residual_variance(variance, judge_error) / labels


def labels_needed(
    half_width: float, z: float, pairs: int, variance: float, judge_error: float
) -> int | None:
    """Fewest labels (at most one per judged pair) for the calibrated interval to reach
    ±half_width with `pairs` judged pairs; None when labelling every pair is not enough."""
    budget = _budget(half_width, z)
    if calibrated_variance(pairs, pairs, variance, judge_error) > budget:
        return None
    room = budget - variance / pairs
    return max(1, math.ceil(residual_variance(variance, judge_error) / room))


def pairs_for_labels(half_width: float, z: float, variance: float, judge_error: float) -> int:
    """Pairs enough that their own term, var(Y) / N, uses at most JUDGE_SHARE of the
    variance budget, leaving the rest to the labels."""
    return max(1, math.ceil(variance / (JUDGE_SHARE * _budget(half_width, z))))


@dataclass(frozen=True)
class SamplePlan:
    """Pairs and labels for one target half-width; see `plan_sample`."""

    z: float
    variance: float  # of one pair's credit
    pairs: int  # for the judge-only interval
    labels: int  # for the calibrated interval, on `labels_pairs` judged pairs
    labels_pairs: int  # judged pairs the calibrated interval needs (more than `pairs`)
    lam: float  # the judge's PPI++ weight at that plan


def plan_sample(
    half_width: float,
    confidence: float,
    win_rate: float,
    half_share: float,
    judge_error: float,
) -> SamplePlan:
    """Pairs for the judge-only interval, and pairs and labels for the calibrated one.

    The calibrated interval's pairs term, var(Y) / N, equals the judge-only variance, so it
    needs more pairs than the judge-only one: `pairs_for_labels` leaves three quarters of the
    budget to the labels. Never fewer labels than the calibrated figure needs to be given at
    all (MIN_LABELS).
    """
    z = z_value(confidence)
    variance = credit_variance(win_rate, half_share)
    if variance <= 0:
        raise ValueError("a plan needs pairs whose credit varies (not every pair one outcome)")
    labels_pairs = pairs_for_labels(half_width, z, variance, judge_error)
    labels = labels_needed(half_width, z, labels_pairs, variance, judge_error)
    assert labels is not None  # with every pair labelled: (v + residual) / N <= v / N x 2
    return SamplePlan(
        z=z,
        variance=variance,
        pairs=pairs_needed(half_width, z, variance),
        labels=max(labels, MIN_LABELS),
        labels_pairs=max(labels_pairs, MIN_LABELS),
        lam=tuned_lambda(variance, judge_error),
    )


def labels_to_reach(
    half_width: float,
    confidence: float,
    labels_used: int,
    residual_variance: float,
    label_variance: float,
    pairs: int,
) -> int | None:
    """How many more labels a run's calibrated interval needs to reach ±half_width.

    From the run's current calibrated figures (stats/calibrated.py): the labels used, the
    variance of their weighted label-minus-judge terms, var(Y) and the N pairs. 0 when the
    interval is there already; None when it cannot get there on these pairs: their own term
    var(Y) / N alone is too wide.
    """
    budget = _budget(half_width, z_value(confidence))
    pairs_term = label_variance / pairs
    if pairs_term >= budget:
        return None
    total = math.ceil(residual_variance / (budget - pairs_term))
    return max(0, total - labels_used)


def judge_error(panel: np.ndarray, humans: HumanLabels | None) -> tuple[float | None, int]:
    """The judge's mean squared credit error against people, and the labelled pairs it is over.

    `panel` holds the pairs' outcome codes; a pair's human credit is the mean of its labels'.
    Pairs without a panel outcome do not count; None when no pair does.
    """
    if humans is None or humans.pair.size == 0:
        return None, 0
    n = panel.size
    counts = np.bincount(humans.pair, minlength=n)
    sums = np.bincount(humans.pair, weights=(humans.label + 1) / 2, minlength=n)
    judged = pair_credit(panel)
    usable = (counts > 0) & ~np.isnan(judged)
    labelled = int(usable.sum())
    if not labelled:
        return None, 0
    error = (judged[usable] - sums[usable] / counts[usable]) ** 2
    return float(error.mean()), labelled
