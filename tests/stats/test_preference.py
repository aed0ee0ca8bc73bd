import itertools

import numpy as np
import pytest
from scipy.stats import binomtest
from statsmodels.stats.proportion import proportion_confint

from judge_service.stats.frame import NO_VERDICT
from judge_service.stats.preference import (
    NO_OUTCOME,
    OUTCOME_CODES,
    Outcome,
    combine_orders,
    pair_outcomes,
    panel_outcome,
    panel_outcomes,
    sign_test,
    summarize_counts,
    wilson_interval,
)

VERDICTS = {"candidate": 1, "baseline": -1, "tie": 0}


@pytest.mark.parametrize(("k", "n"), [(0, 10), (3, 10), (8, 10), (10, 10), (43, 50), (861, 1000)])
def test_wilson_matches_scipy(k: int, n: int) -> None:
    expected = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    low, high = wilson_interval(k, n)
    assert low == pytest.approx(expected.low, abs=1e-12)
    assert high == pytest.approx(expected.high, abs=1e-12)


@pytest.mark.parametrize(("k", "n"), [(0, 7), (1, 7), (12.5, 40), (250, 333), (3, 3)])
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_wilson_matches_statsmodels(k: float, n: int, confidence: float) -> None:
    low, high = proportion_confint(k, n, alpha=1 - confidence, method="wilson")
    assert wilson_interval(k, n, confidence) == pytest.approx((low, high), abs=1e-12)


def test_wilson_contains_estimate_and_narrows_with_n() -> None:
    small = wilson_interval(7, 10)
    large = wilson_interval(700, 1000)
    assert small[0] < 0.7 < small[1]
    assert large[0] < 0.7 < large[1]
    assert large[1] - large[0] < small[1] - small[0]


def test_win_rate_interval_on_five_ties() -> None:
    # Built on the credits' variance (tests/stats/test_credit_interval.py); Wilson's interval
    # treated the five half credits as coin flips and gave (0.170, 0.830).
    summary = summarize_counts(0, 0, 5, 0, swapped=True)
    assert summary.win_rate_ci == pytest.approx((0.2828, 0.7172), abs=1e-4)


def test_combine_orders() -> None:
    assert combine_orders(["candidate", "candidate"]) is Outcome.WIN
    assert combine_orders(["baseline", "baseline"]) is Outcome.LOSS
    assert combine_orders(["tie", "tie"]) is Outcome.TIE
    assert combine_orders(["candidate", "baseline"]) is Outcome.INCONSISTENT
    assert combine_orders(["candidate", "tie"]) is Outcome.INCONSISTENT
    assert combine_orders(["baseline"]) is Outcome.LOSS


def test_panel_majority_or_tie() -> None:
    assert panel_outcome([Outcome.WIN, Outcome.WIN, Outcome.LOSS]) is Outcome.WIN
    assert panel_outcome([Outcome.WIN, Outcome.LOSS]) is Outcome.TIE
    assert panel_outcome([Outcome.WIN, Outcome.LOSS, Outcome.INCONSISTENT]) is Outcome.TIE
    assert panel_outcome([Outcome.LOSS]) is Outcome.LOSS


def test_pair_outcomes_agree_with_combine_orders() -> None:
    names = list(VERDICTS)
    combos = list(itertools.product(names, names))
    first = np.array([VERDICTS[a] for a, _ in combos])
    second = np.array([VERDICTS[b] for _, b in combos])
    got = pair_outcomes(first, second)
    assert got.tolist() == [OUTCOME_CODES[combine_orders([a, b])] for a, b in combos]
    assert pair_outcomes(np.array([1, NO_VERDICT]), np.array([NO_VERDICT, 1])).tolist() == [
        NO_OUTCOME,
        NO_OUTCOME,
    ]
    assert pair_outcomes(np.array([1, -1, 0])).tolist() == [1, -1, 0]


def test_panel_outcomes_agree_with_panel_outcome() -> None:
    outcomes = list(Outcome)
    for judges in (1, 2, 3, 4):
        combos = list(itertools.product(outcomes, repeat=judges))
        table = np.array([[OUTCOME_CODES[o] for o in combo] for combo in combos]).T
        expected = [OUTCOME_CODES[panel_outcome(list(combo))] for combo in combos]
        assert panel_outcomes(table).tolist() == expected
    with_missing = np.array([[1, 1], [NO_OUTCOME, 1]])
    assert panel_outcomes(with_missing).tolist() == [NO_OUTCOME, 1]


@pytest.mark.parametrize(("wins", "losses"), [(0, 1), (6, 2), (20, 5), (50, 50), (0, 30)])
def test_sign_test_is_binomtest(wins: int, losses: int) -> None:
    expected = binomtest(wins, wins + losses, 0.5).pvalue
    assert sign_test(wins, losses) == pytest.approx(expected, rel=1e-12)
    assert sign_test(0, 0) is None


def test_summarize_counts_without_swap_has_no_consistency() -> None:
    summary = summarize_counts(1, 1, 0, 0, swapped=False)
    assert summary.position_consistency is None
    assert summary.win_rate == 0.5


def test_summarize_counts_nothing_complete() -> None:
    summary = summarize_counts(0, 0, 0, 0, 2, swapped=True)
    assert (summary.n, summary.missing, summary.win_rate, summary.win_rate_ci) == (0, 2, None, None)
    assert summary.win_rate_bootstrap_ci is None and summary.sign_test_p is None


def test_no_decisive_pairs() -> None:
    summary = summarize_counts(0, 0, 3, 2, swapped=True)
    assert summary.win_rate == 0.5
    assert summary.decisive_win_rate is None and summary.decisive_win_rate_ci is None
    assert summary.sign_test_p is None
    assert summary.preferred_rate == 0.0
