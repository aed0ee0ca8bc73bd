import pytest
from scipy.stats import binomtest

from judge_service.stats.preference import (
    Outcome,
    combine_orders,
    panel_outcome,
    summarize,
    wilson_interval,
)


@pytest.mark.parametrize(("k", "n"), [(0, 10), (3, 10), (8, 10), (10, 10), (43, 50), (861, 1000)])
def test_wilson_matches_scipy(k: int, n: int) -> None:
    expected = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    low, high = wilson_interval(k, n)
    assert low == pytest.approx(expected.low, abs=1e-12)
    assert high == pytest.approx(expected.high, abs=1e-12)


def test_wilson_contains_estimate_and_narrows_with_n() -> None:
    small = wilson_interval(7, 10)
    large = wilson_interval(700, 1000)
    assert small[0] < 0.7 < small[1]
    assert large[0] < 0.7 < large[1]
    assert large[1] - large[0] < small[1] - small[0]


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


def test_summarize_counts_and_half_credit() -> None:
    outcomes = [Outcome.WIN] * 6 + [Outcome.LOSS] * 2 + [Outcome.TIE, Outcome.INCONSISTENT, None]
    summary = summarize(outcomes, swapped=True)
    assert (summary.n, summary.wins, summary.losses) == (10, 6, 2)
    assert (summary.ties, summary.inconsistent, summary.missing) == (1, 1, 1)
    assert summary.win_rate == pytest.approx(0.7)
    assert summary.win_rate_ci == wilson_interval(7, 10)
    assert summary.position_consistency == pytest.approx(0.9)


def test_summarize_without_swap_has_no_consistency() -> None:
    summary = summarize([Outcome.WIN, Outcome.LOSS], swapped=False)
    assert summary.position_consistency is None
    assert summary.win_rate == 0.5


def test_summarize_nothing_complete() -> None:
    summary = summarize([None, None], swapped=True)
    assert (summary.n, summary.missing, summary.win_rate, summary.win_rate_ci) == (0, 2, None, None)
