"""Drift comparison: agreement, kappa and the paired interval on fixed data; its false-alarm
rate over repeats of one stochastic judge, and its power against a real shift."""

import math

import numpy as np
import pytest
from scipy.stats import ttest_rel
from statsmodels.stats.inter_rater import cohens_kappa as sm_cohens_kappa

from judge_service.stats.agreement import confusion
from judge_service.stats.drift import compare_outcomes, credits, paired_change_interval
from judge_service.stats.preference import INCONSISTENT, LOSS, NO_OUTCOME, TIE, WIN

OUTCOMES = np.array([WIN, LOSS, TIE, INCONSISTENT], dtype=np.int8)
REPEATS = 400
PAIRS = 200
ALPHA = 0.05


def test_fixed_data_agreement_kappa_and_paired_interval() -> None:
    before = np.array([WIN, WIN, LOSS, TIE, INCONSISTENT, NO_OUTCOME, WIN, LOSS], dtype=np.int8)
    after = np.array([WIN, LOSS, LOSS, WIN, INCONSISTENT, WIN, WIN, TIE], dtype=np.int8)
    result = compare_outcomes(before, after)

    assert result.pairs == 7  # the pair without an outcome before is left out
    assert result.agreement == pytest.approx(4 / 7)
    kept = before != NO_OUTCOME
    table = confusion(before[kept], after[kept])
    assert result.kappa == pytest.approx(sm_cohens_kappa(table, return_results=False))
    old, new = [1, 1, 0, 0.5, 0.5, 1, 0], [1, 0, 0, 1, 0.5, 1, 0.5]
    assert result.win_rate_before == pytest.approx(np.mean(old))
    assert result.win_rate_after == pytest.approx(np.mean(new))
    assert result.win_rate_change == pytest.approx(np.mean(new) - np.mean(old))
    low, high = ttest_rel(new, old).confidence_interval(0.95)
    assert result.win_rate_change_ci == pytest.approx((low, high))
    assert not result.drifted  # 7 pairs that moved both ways: the interval holds 0


def test_every_pair_moving_the_same_way_is_drift_and_none_moving_is_not() -> None:
    before = np.full(5, LOSS, dtype=np.int8)
    moved = compare_outcomes(before, np.full(5, TIE, dtype=np.int8))
    assert moved.win_rate_change_ci == pytest.approx((0.5, 0.5))
    assert moved.drifted and moved.agreement == 0.0
    same = compare_outcomes(before, before)
    assert same.win_rate_change_ci == (0.0, 0.0)
    assert not same.drifted and same.agreement == 1.0


def test_too_few_pairs_give_no_interval_and_no_flag() -> None:
    assert compare_outcomes(np.array([WIN]), np.array([LOSS])).win_rate_change_ci is None
    empty = compare_outcomes(np.array([NO_OUTCOME]), np.array([WIN]))
    assert (empty.pairs, empty.agreement, empty.drifted) == (0, None, False)
    assert paired_change_interval(np.array([0.5])) is None
    with pytest.raises(ValueError, match="not paired"):
        compare_outcomes(np.array([WIN, WIN]), np.array([WIN]))


def test_credits() -> None:
    codes = np.array([WIN, LOSS, TIE, INCONSISTENT, NO_OUTCOME], dtype=np.int8)
    assert np.array_equal(credits(codes), [1.0, 0.0, 0.5, 0.5, np.nan], equal_nan=True)


def _judge(rng: np.random.Generator, probabilities: np.ndarray) -> np.ndarray:
    """One check: each pair's outcome drawn from its own outcome probabilities."""
    cumulative = probabilities.cumsum(axis=1)
    draws = (rng.random((probabilities.shape[0], 1)) > cumulative).sum(axis=1)
    return OUTCOMES[np.minimum(draws, 3)]


def _pairs(rng: np.random.Generator) -> np.ndarray:
    """Per pair (win, loss, tie, inconsistent) probabilities: most pairs nearly settled, as
    a real judge's are (Dirichlet draws, sharpened), and the candidate ahead overall."""
    raw = rng.dirichlet([1.2, 0.6, 0.3, 0.3], size=PAIRS) ** 3
    return raw / raw.sum(axis=1, keepdims=True)


def _biased(probabilities: np.ndarray, bias: float) -> np.ndarray:
    """The same judge after its provider moved: with probability `bias` per pair, one order's
    verdict goes to slot A whatever the content, so the pair comes out inconsistent."""
    moved = probabilities * (1 - bias)
    moved[:, 3] += bias
    return moved


def test_false_alarms_at_the_stated_rate_when_nothing_changed() -> None:
    rng = np.random.default_rng(20261207)
    flagged = 0
    for _ in range(REPEATS):
        population = _pairs(rng)
        flagged += compare_outcomes(_judge(rng, population), _judge(rng, population)).drifted
    margin = 3 * math.sqrt(ALPHA * (1 - ALPHA) / REPEATS)  # three binomial SDs
    assert abs(flagged / REPEATS - ALPHA) < margin, flagged


def test_a_real_shift_is_caught_in_nearly_every_repeat() -> None:
    rng = np.random.default_rng(7)
    flagged, changes = 0, []
    for _ in range(REPEATS):
        population = _pairs(rng)
        result = compare_outcomes(_judge(rng, population), _judge(rng, _biased(population, 0.8)))
        flagged += result.drifted
        changes.append(result.win_rate_change)
    assert np.mean(changes) < -0.05  # pulled toward 0.5 from above
    assert flagged / REPEATS > 0.97, flagged
