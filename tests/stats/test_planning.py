"""The planner against its closed forms, and against simulated judged and labelled runs."""

import math

import numpy as np
import pytest

from judge_service.stats.calibrated import MIN_LABELS, calibrate
from judge_service.stats.frame import HumanLabels, LabelDraws
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
    assert labels == sorted(labels) and labels[0] < labels[-1] < plans[0].labels_pairs


def test_a_judge_no_better_than_chance_leaves_the_people_alone() -> None:
    # e = 2v: judge and people independent, lambda 0: every label carries var(Y) = v.
    plan = plan_sample(0.03, 0.95, 0.7, 0.2, 2 * 0.16)
    budget = (0.03 / Z95) ** 2
    assert plan.lam == pytest.approx(0.0, abs=1e-12)
    assert plan.labels == math.ceil(0.16 / (budget - 0.16 / plan.labels_pairs))


def test_a_perfect_judge_still_needs_the_minimum_of_labels() -> None:
    plan = plan_sample(0.05, 0.95, 0.7, 0.2, 0.0)
    assert plan.labels == MIN_LABELS


def test_the_calibrated_plan_judges_four_times_the_pairs() -> None:
    """Its pairs term var(Y) / N is the judge-only variance: a quarter of the budget."""
    plan = plan_sample(0.03, 0.95, 0.7, 0.2, 0.05)
    budget = (0.03 / Z95) ** 2
    assert 0.16 / plan.labels_pairs <= budget / 4 < 0.16 / (plan.labels_pairs - 1)
    assert plan.labels_pairs == pytest.approx(4 * plan.pairs, abs=4)
    assert calibrated_variance(plan.labels, plan.labels_pairs, 0.16, 0.05) <= budget


def test_labels_to_reach() -> None:
    budget = (0.03 / Z95) ** 2
    # Pairs term 0.16 / 4000 = 4e-5; the residual 0.05 needs 0.05 / (budget - 4e-5) labels.
    total = math.ceil(0.05 / (budget - 4e-5))
    assert labels_to_reach(0.03, 0.95, 100, 0.05, 0.16, 4000) == total - 100
    assert labels_to_reach(0.03, 0.95, total + 5, 0.05, 0.16, 4000) == 0
    # The pairs' own term alone wider than the target: no number of labels gets there.
    assert labels_to_reach(0.03, 0.95, 100, 0.05, 0.16, 500) is None


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
    """Half-widths and misses of the service's calibrated interval over simulated runs.

    People's credits Y come from the shares; the judge gives Y, or on a share q of the pairs
    an independent draw, so its credits have the same shares and E[(Y - f)²] = 2qv = error.
    The label queue draws `labels` pairs uniformly. A miss is an interval without win_rate,
    the people's mean credit the pairs are drawn from.
    """
    w = win_rate - half_share / 2
    q = error / (2 * credit_variance(win_rate, half_share))
    halves, misses = np.zeros(runs), np.zeros(runs, dtype=bool)
    for run in range(runs):
        y = _credits(rng, (1, pairs), w, half_share)[0]
        f = np.where(rng.random(pairs) < q, _credits(rng, (1, pairs), w, half_share)[0], y)
        drawn = rng.integers(0, pairs, size=labels)
        draws = LabelDraws(
            pair=drawn.astype(np.int32),
            credit=y[drawn],
            probability=np.full(labels, 1 / pairs),
            population=np.full(labels, pairs, dtype=np.int64),
            ad_hoc_pair=np.zeros(0, dtype=np.int32),
        )
        got = calibrate(f, np.arange(pairs), draws, pairs, 0.95)
        low, high = got.ci
        halves[run] = (high - low) / 2
        misses[run] = not low <= win_rate <= high
    return halves, misses


@pytest.mark.parametrize(
    ("win_rate", "half_share", "error", "half_width"),
    [
        (0.7, 0.2, 0.15, 0.03),  # the defaults' judge
        (0.7, 0.2, 0.05, 0.03),
        (0.55, 0.35, 0.02, 0.04),
        (0.8, 0.1, 0.08, 0.05),
    ],
)
def test_simulated_runs_reach_the_planned_half_width(
    win_rate: float, half_share: float, error: float, half_width: float
) -> None:
    plan = plan_sample(half_width, 0.95, win_rate, half_share, error)
    rng = np.random.default_rng(2026)
    # Judge-only: the credits' own spread over the planned pairs.
    f = _credits(rng, (400, plan.pairs), win_rate - half_share / 2, half_share)
    raw = Z95 * np.sqrt(f.var(axis=1) / plan.pairs)
    assert raw.mean() == pytest.approx(half_width, rel=0.10)
    assert raw.mean() <= half_width * 1.01  # the plan rounds up: never short of the target

    half, missed = simulate(rng, 300, plan.labels_pairs, plan.labels, win_rate, half_share, error)
    assert half.mean() == pytest.approx(half_width, rel=0.10)
    assert missed.mean() <= 0.08  # and the interval is an honest one (95%, 300 runs)
