"""The planner against its closed forms, and against simulated judged and labelled runs."""

import math

import numpy as np
import pytest

from judge_service.stats.calibrated import MIN_LABELS
from judge_service.stats.frame import HumanLabels
from judge_service.stats.planning import (
    calibrated_variance,
    credit_variance,
    judge_error,
    labels_needed,
    labels_to_reach,
    pairs_needed,
    plan_sample,
    z_value,
)
from judge_service.stats.preference import INCONSISTENT, LOSS, NO_OUTCOME, TIE, WIN

Z95 = 1.959963984540054


def test_pairs_are_the_closed_form() -> None:
    assert z_value(0.95) == pytest.approx(Z95)
    # No half credits: a proportion, v = p(1 - p); 1.96² x 0.25 / 0.05² = 384.1...
    assert credit_variance(0.5, 0.0) == 0.25
    assert pairs_needed(0.05, Z95, 0.25) == 385
    # w = 0.6, h = 0.2: m = 0.7, v = 0.6 + 0.05 - 0.49 = 0.16.
    assert credit_variance(0.7, 0.2) == pytest.approx(0.16)
    assert pairs_needed(0.03, Z95, 0.16) == math.ceil(Z95**2 * 0.16 / 0.03**2)


@pytest.mark.parametrize("error", [0.0, 0.02, 0.1, 0.15, 0.3])
def test_labels_are_the_fewest_that_reach_the_target(error: float) -> None:
    v, budget, pairs = 0.16, (0.03 / Z95) ** 2, 2000
    labels = labels_needed(0.03, Z95, pairs, v, error)
    assert labels is not None
    assert calibrated_variance(labels, pairs, v, error) <= budget
    assert labels == 1 or calibrated_variance(labels - 1, pairs, v, error) > budget


def test_a_better_judge_needs_fewer_labels() -> None:
    plans = [plan_sample(0.03, 0.95, 0.7, 0.2, error) for error in (0.02, 0.05, 0.15)]
    assert [plan.pairs for plan in plans] == [plans[0].pairs] * 3
    labels = [plan.labels for plan in plans]
    assert labels == sorted(labels) and labels[0] < labels[-1] < plans[0].pairs
    assert not any(plan.pairs_raised for plan in plans)


def test_a_judge_no_better_than_chance_leaves_the_people_alone() -> None:
    # e = 2v: judge and people independent, lambda 0: labels as many as the judge-only pairs.
    plan = plan_sample(0.03, 0.95, 0.7, 0.2, 2 * 0.16)
    assert plan.lam == pytest.approx(0.0, abs=1e-12) and plan.labels == plan.pairs


def test_a_perfect_judge_still_needs_the_minimum_of_labels() -> None:
    plan = plan_sample(0.05, 0.95, 0.7, 0.2, 0.0)
    assert plan.labels == MIN_LABELS


def test_a_small_dataset_raises_the_pairs_and_says_so() -> None:
    enough = plan_sample(0.03, 0.95, 0.7, 0.2, 0.02)
    # 300 pairs, every one labelled, still leave the interval too wide.
    small = plan_sample(0.03, 0.95, 0.7, 0.2, 0.02, pairs_available=300)
    assert small.pairs == enough.pairs and small.pairs_raised
    assert small.labels_pairs > enough.pairs  # the judge's term at a quarter of the budget
    budget = (0.03 / Z95) ** 2
    assert small.lam**2 * 0.16 / small.labels_pairs <= budget / 4
    # A dataset that is short of the judge-only plan but enough for the calibrated one.
    short = plan_sample(0.03, 0.95, 0.7, 0.2, 0.02, pairs_available=enough.pairs - 100)
    assert not short.pairs_raised and short.labels_pairs == enough.pairs - 100
    assert short.labels > enough.labels


def test_labels_to_reach() -> None:
    budget = (0.03 / Z95) ** 2
    # Judge term 0.25 x 0.16 / 4000 = 1e-5; the residual 0.05 needs 0.05 / (budget - 1e-5).
    total = math.ceil(0.05 / (budget - 1e-5))
    assert labels_to_reach(0.03, 0.95, 100, 0.05, 0.5, 0.16, 4000) == total - 100
    assert labels_to_reach(0.03, 0.95, total + 5, 0.05, 0.5, 0.16, 4000) == 0
    # The judge's term alone wider than the target: no number of labels gets there.
    assert labels_to_reach(0.03, 0.95, 100, 0.05, 1.0, 0.16, 500) is None
    # More labels than pairs: not on these pairs either.
    assert labels_to_reach(0.03, 0.95, 100, 0.05, 0.5, 0.16, 300) is None


def test_judge_error_is_the_mean_squared_credit_difference() -> None:
    panel = np.array([WIN, LOSS, TIE, INCONSISTENT, NO_OUTCOME, WIN], dtype=np.int8)
    humans = HumanLabels(
        pair=np.array([0, 1, 2, 3, 4, 5, 5], dtype=np.int32),
        annotator=np.array([0, 0, 0, 0, 0, 0, 1], dtype=np.int32),
        label=np.array([1, 1, -1, 0, 1, 1, 0], dtype=np.int8),
    )
    # Pair 4 has no panel outcome; pair 5's people average 0.75.
    expected = np.mean([0.0, 1.0, 0.25, 0.0, 0.0625])
    assert judge_error(panel, humans) == (pytest.approx(expected), 5)
    assert judge_error(panel, None) == (None, 0)


# -- against simulation ------------------------------------------------------------


def _credits(rng: np.random.Generator, shape: tuple[int, int], w: float, h: float) -> np.ndarray:
    u = rng.random(shape)
    return np.where(u < w, 1.0, np.where(u < w + h, 0.5, 0.0))


def simulate(
    rng: np.random.Generator,
    runs: int,
    pairs: int,
    labels: int,
    win_rate: float,
    half_share: float,
    error: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Half-widths and misses of the calibrated (PPI++) interval over simulated runs.

    People's credits Y come from the shares; the judge gives Y, or on a share q of the pairs
    an independent draw, so its credits have the same shares and E[(Y - f)²] = 2qv = error.
    A miss is an interval without the people's mean credit over the run's pairs, the figure
    the calibrated estimate is of.
    """
    w = win_rate - half_share / 2
    q = error / (2 * credit_variance(win_rate, half_share))
    y = _credits(rng, (runs, pairs), w, half_share)
    f = np.where(rng.random((runs, pairs)) < q, _credits(rng, (runs, pairs), w, half_share), y)
    chosen = np.argsort(rng.random((runs, pairs)), axis=1)[:, :labels]  # uniform, no repeats
    y_l, f_l = np.take_along_axis(y, chosen, 1), np.take_along_axis(f, chosen, 1)
    var_f = f.var(axis=1)
    cov = ((y_l - y_l.mean(1, keepdims=True)) * (f_l - f_l.mean(1, keepdims=True))).mean(1)
    lam = np.clip(cov / ((1 + labels / pairs) * var_f), 0, 1)[:, None]
    residual = y_l - lam * f_l
    estimate = lam[:, 0] * f.mean(1) + residual.mean(1)
    half = Z95 * np.sqrt(lam[:, 0] ** 2 * var_f / pairs + residual.var(1) / labels)
    return half, np.abs(estimate - y.mean(axis=1)) > half


@pytest.mark.parametrize(
    ("win_rate", "half_share", "error", "half_width", "available"),
    [
        (0.7, 0.2, 0.15, 0.03, None),  # the defaults' judge
        (0.7, 0.2, 0.05, 0.03, None),
        (0.55, 0.35, 0.02, 0.04, None),
        (0.8, 0.1, 0.08, 0.05, None),
        (0.7, 0.2, 0.02, 0.03, 300),  # too few pairs: raised
    ],
)
def test_simulated_runs_reach_the_planned_half_width(
    win_rate: float, half_share: float, error: float, half_width: float, available: int | None
) -> None:
    plan = plan_sample(half_width, 0.95, win_rate, half_share, error, available)
    rng = np.random.default_rng(2026)
    # Judge-only: the credits' own spread over the planned pairs.
    f = _credits(rng, (400, plan.pairs), win_rate - half_share / 2, half_share)
    raw = Z95 * np.sqrt(f.var(axis=1) / plan.pairs)
    assert raw.mean() == pytest.approx(half_width, rel=0.10)
    assert raw.mean() <= half_width * 1.01  # the plan rounds up: never short of the target

    half, missed = simulate(rng, 400, plan.labels_pairs, plan.labels, win_rate, half_share, error)
    assert half.mean() == pytest.approx(half_width, rel=0.10)
    assert missed.mean() <= 0.08  # and the interval is an honest one (95%, 400 runs)
