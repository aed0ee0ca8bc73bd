"""How many judged pairs and human labels a conclusion needs, worked out before any is made.

Every figure is about the candidate's credit on a pair: win 1, tie or order-inconsistent 1/2,
loss 0. With win share w, half-credit share h and mean credit m = w + h/2, a pair's credit
has variance v = w + h/4 - m² = m(1 - m) - h/4, and the judge-only interval on m with N pairs
has half-width z·√(v / N).

The calibrated interval (prediction-powered inference with PPI++ tuning, stats/calibrated.py)
adds m human labels on pairs drawn uniformly from the N judged ones. Its variance is

    λ² var(f) / N + var(Y - λf) / m,   λ = cov(Y, f) / ((1 + m/N) var(f)) clipped to [0, 1]

with f the judge's credit and Y a person's. Planned, var(f) = var(Y) = v and var(Y - f) is
the judge error e (the mean squared difference between the two credits, its bias folded in),
so cov(Y, f) = v - e/2. λ is the variance-minimising weight at each m, so the variance falls
as m grows and the labels needed are found by bisection. Definitions: docs/statistics.md,
"Planning".
"""

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

from judge_service.stats.calibrated import MIN_LABELS
from judge_service.stats.frame import HumanLabels
from judge_service.stats.report import pair_credit

# When the pairs on hand cannot reach the target even with every one labelled, the plan asks
# for pairs enough that the judge's term takes at most this share of the variance budget,
# leaving the rest to the labels.
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


def tuned_lambda(labels: int, pairs: int, variance: float, judge_error: float) -> float:
    """PPI++'s weight of the judge with `labels` labels among `pairs` judged pairs."""
    cov = variance - judge_error / 2
    return min(1.0, max(0.0, cov / ((1 + labels / pairs) * variance)))


def calibrated_variance(labels: int, pairs: int, variance: float, judge_error: float) -> float:
    """Variance of the calibrated estimate under the planning model (module docstring)."""
    lam = tuned_lambda(labels, pairs, variance, judge_error)
    cov = variance - judge_error / 2
    residual = variance + lam * lam * variance - 2 * lam * cov
    return lam * lam * variance / pairs + residual / labels


def labels_needed(
    half_width: float, z: float, pairs: int, variance: float, judge_error: float
) -> int | None:
    """Fewest labels (at most one per judged pair) for the calibrated interval to reach
    ±half_width with `pairs` judged pairs; None when labelling every pair is not enough."""
    budget = _budget(half_width, z)
    if calibrated_variance(pairs, pairs, variance, judge_error) > budget:
        return None
    low, high = 1, pairs  # the variance falls with the labels: bisect for the first that fits
    while low < high:
        middle = (low + high) // 2
        if calibrated_variance(middle, pairs, variance, judge_error) <= budget:
            high = middle
        else:
            low = middle + 1
    return low


def pairs_for_labels(half_width: float, z: float, variance: float, judge_error: float) -> int:
    """Pairs enough that the judge's term uses at most JUDGE_SHARE of the variance budget
    (at the judge's largest weight), and that labelling them all would reach the target."""
    budget = _budget(half_width, z)
    lam = tuned_lambda(0, 1, variance, judge_error)
    judge_share = math.ceil(lam * lam * variance / (JUDGE_SHARE * budget))
    # With m = N labels the variance is (a constant) / N: the fewest pairs that can reach it.
    every_pair = math.ceil(calibrated_variance(1, 1, variance, judge_error) / budget)
    return max(1, judge_share, every_pair)


@dataclass(frozen=True)
class SamplePlan:
    """Pairs and labels for one target half-width; see `plan_sample`."""

    z: float
    variance: float  # of one pair's credit
    pairs: int  # for the judge-only interval
    labels: int  # for the calibrated interval, on `labels_pairs` judged pairs
    labels_pairs: int  # judged pairs the labels are drawn from
    pairs_raised: bool  # labels_pairs is more than the pairs on hand (see plan_sample)
    lam: float  # the judge's PPI++ weight at that plan


def plan_sample(
    half_width: float,
    confidence: float,
    win_rate: float,
    half_share: float,
    judge_error: float,
    pairs_available: int | None = None,
) -> SamplePlan:
    """Pairs for the judge-only interval, and labels for the calibrated one.

    The labels are planned on the judge-only plan's pairs, or on the whole dataset when it is
    smaller. If labelling every one of those pairs cannot reach the target (only possible on
    a dataset smaller than the judge-only plan), the plan raises the pairs (`pairs_for_labels`)
    and says so in `pairs_raised`. Never fewer labels than the calibrated figure needs to be
    given at all (MIN_LABELS).
    """
    z = z_value(confidence)
    variance = credit_variance(win_rate, half_share)
    if variance <= 0:
        raise ValueError("a plan needs pairs whose credit varies (not every pair one outcome)")
    pairs = pairs_needed(half_width, z, variance)
    on_hand = pairs if pairs_available is None else min(pairs, pairs_available)
    labels = labels_needed(half_width, z, on_hand, variance, judge_error)
    labels_pairs = on_hand
    if labels is None:
        labels_pairs = pairs_for_labels(half_width, z, variance, judge_error)
        labels = labels_needed(half_width, z, labels_pairs, variance, judge_error)
        assert labels is not None  # pairs_for_labels can reach it with every pair labelled
    labels = max(labels, MIN_LABELS)
    labels_pairs = max(labels_pairs, labels)
    return SamplePlan(
        z=z,
        variance=variance,
        pairs=pairs,
        labels=labels,
        labels_pairs=labels_pairs,
        pairs_raised=labels_pairs > on_hand,
        lam=tuned_lambda(labels, labels_pairs, variance, judge_error),
    )


def labels_to_reach(
    half_width: float,
    confidence: float,
    labels_used: int,
    residual_variance: float,
    lam: float,
    judge_variance: float,
    pairs: int,
) -> int | None:
    """How many more labels a run's calibrated interval needs to reach ±half_width.

    From the run's current calibrated figures (stats/calibrated.py): the labels used, the
    residual variance var(Y - λf) they show, λ, var(f) and the N pairs. λ is held where it
    is. 0 when the interval is there already; None when it cannot get there on these pairs:
    the judge's term alone is too wide, or it would take more labels than pairs.
    """
    budget = _budget(half_width, z_value(confidence))
    judge_term = lam * lam * judge_variance / pairs
    if judge_term >= budget:
        return None
    total = math.ceil(residual_variance / (budget - judge_term))
    if total > pairs:
        return None
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
