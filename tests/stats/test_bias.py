import warnings

import numpy as np
import pytest
import statsmodels.api as sm
from scipy.special import expit

from judge_service.stats.bias import (
    first_slot_rate,
    fit_logistic,
    length_controlled_win_rate,
    length_feature,
    longer_preferred_rate,
)
from judge_service.stats.preference import INCONSISTENT, wilson_interval


def _glm(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsmodels notes the non-integer (fractional) y
        return sm.GLM(y, sm.add_constant(x), family=sm.families.Binomial()).fit().params


def test_logistic_fit_matches_statsmodels() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=300)
    y = np.where(rng.random(300) < expit(0.4 + 1.2 * x), 1.0, 0.0)
    y[rng.random(300) < 0.2] = 0.5  # half-credit pairs: the quasi-binomial fit
    fit = fit_logistic(x, y)
    assert fit is not None
    assert fit == pytest.approx(tuple(_glm(x, y)), abs=1e-8)


def test_length_controlled_rate_matches_statsmodels() -> None:
    rng = np.random.default_rng(1)
    base = rng.integers(100, 2000, 500)
    cand = base + rng.normal(200, 400, 500).astype(int)
    feature = np.tanh((cand - base) / np.std(cand - base))
    credit = np.where(rng.random(500) < expit(0.2 + 1.5 * feature), 1.0, 0.0)
    credit[rng.random(500) < 0.15] = 0.5
    expected = expit(_glm(feature, credit)[0])
    assert length_controlled_win_rate(credit, base, cand) == pytest.approx(expected, abs=1e-9)
    # The candidate is mostly longer and length helps it: the adjusted rate is lower.
    assert length_controlled_win_rate(credit, base, cand) < credit.mean()


def test_length_controlled_rate_fallbacks() -> None:
    credit = np.array([1.0, 0.0, 0.5, 1.0])
    same = np.full(4, 10)
    assert length_controlled_win_rate(credit, same, same) == pytest.approx(0.625)
    gap = np.arange(4)
    assert length_controlled_win_rate(credit, gap, gap + 5) == pytest.approx(0.625)
    assert length_controlled_win_rate(np.ones(3), np.arange(3), np.zeros(3)) == 1.0
    assert length_controlled_win_rate(np.zeros(0), same[:0], same[:0]) is None
    assert length_feature(np.array([1]), np.array([2])) is None


def test_separated_data_has_no_length_controlled_rate() -> None:
    # The longer trace always wins and nothing is a tie: the slope has no finite estimate.
    base = np.array([10, 10, 10, 30, 30, 30])
    cand = np.array([30, 30, 30, 10, 10, 10])
    credit = np.array([1.0, 1.0, 1.0, 0.0, 0.0, 0.0])
    assert length_controlled_win_rate(credit, base, cand) is None


def test_first_slot_rate() -> None:
    # order 0: slot A is the baseline (-1); order 1: slot A is the candidate (+1).
    verdict = np.array([-1, 1, 1, 1, 0, -1])
    order = np.array([0, 1, 0, 1, 1, 1])
    rate = first_slot_rate(verdict, order)
    assert (rate.rate, rate.n) == (3 / 5, 5)
    assert rate.ci == wilson_interval(3, 5)
    only_first = first_slot_rate(np.array([1, -1]), np.array([0, 0]))
    assert only_first.rate is None and only_first.n == 0
    assert first_slot_rate(np.array([0, 0]), np.array([0, 1])).n == 0


def test_longer_preferred_rate() -> None:
    outcome = np.array([1, 1, -1, -1, 0, INCONSISTENT, 1])
    base = np.array([1, 5, 1, 5, 1, 1, 3])
    cand = np.array([5, 1, 5, 1, 5, 5, 3])
    rate = longer_preferred_rate(outcome, base, cand)
    # Decisive with different lengths: pairs 0..3; the longer won pairs 0 and 3.
    assert (rate.rate, rate.n) == (0.5, 4)
