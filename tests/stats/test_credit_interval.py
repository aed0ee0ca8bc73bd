"""The interval on the half-credit win rate: coverage, width against the bootstrap, pinned values.

The true mean credit is win + half / 2 for shares (win, half, loss) of pairs won, given half
credit (tie or inconsistent) and lost. The grid: n in {10, 30, 100, 1000}, half-credit shares
0, 0.3 and 0.6, and the candidate winning 10% to 90% of the decisive pairs.
"""

from functools import cache

import numpy as np
import pytest
from scipy.special import gammaln
from statsmodels.stats.proportion import proportion_confint

from judge_service.stats.bootstrap import percentile_interval, resample
from judge_service.stats.preference import credit_interval, wilson_interval

CREDIT = np.array([1.0, 0.5, 0.0])  # win, half credit, loss
DECISIVE_WIN_SHARES = np.linspace(0.1, 0.9, 17)
HALF_SHARES = (0.0, 0.3, 0.6)


def shares(half: float, decisive_win: float) -> tuple[float, float, float]:
    win = (1 - half) * decisive_win
    return (win, half, 1 - half - win)


@cache
def every_outcome(n: int) -> tuple[np.ndarray, ...]:
    """Every (wins, halves, losses) of n pairs, with its interval's ends."""
    wins, halves = (a.ravel() for a in np.meshgrid(np.arange(n + 1), np.arange(n + 1)))
    possible = wins + halves <= n
    wins, halves = wins[possible], halves[possible]
    ends = np.array([credit_interval(int(w), int(h), n) for w, h in zip(wins, halves, strict=True)])
    return wins, halves, n - wins - halves, ends[:, 0], ends[:, 1]


def exact_coverage(n: int, half: float, decisive_win: float) -> float:
    """Probability that the interval covers the true mean credit: a sum over every outcome."""
    wins, halves, losses, low, high = every_outcome(n)
    counts = (wins, halves, losses)
    log_p = gammaln(n + 1) - sum(gammaln(k + 1) for k in counts)
    for k, share in zip(counts, shares(half, decisive_win), strict=True):
        log_p = log_p + (k * np.log(share) if share > 0 else np.where(k > 0, -np.inf, 0.0))
    truth = shares(half, decisive_win) @ CREDIT
    return float(np.exp(log_p)[(low <= truth) & (truth <= high)].sum())


@pytest.mark.parametrize("n", [10, 30, 100])
@pytest.mark.parametrize("half", HALF_SHARES)
def test_exact_coverage_at_small_samples(n: int, half: float) -> None:
    covered = np.array([exact_coverage(n, half, q) for q in DECISIVE_WIN_SHARES])
    assert covered.mean() >= 0.95
    # Without half credits the interval is Agresti-Coull's, whose coverage oscillates with the
    # lattice of a binomial (0.930 at n = 10, 90% wins; Wilson dips to 0.920 on this grid).
    assert covered.min() >= (0.925 if half == 0 else 0.95)


@pytest.mark.parametrize("half", HALF_SHARES)
def test_simulated_coverage_at_a_thousand_pairs(half: float) -> None:
    n, runs = 1000, 4000
    rng = np.random.default_rng(22)
    for q in (0.1, 0.3, 0.5, 0.7, 0.861, 0.9):
        truth = shares(half, q) @ CREDIT
        draws = rng.multinomial(n, shares(half, q), size=runs)
        ends = np.array([credit_interval(int(w), int(h), n) for w, h, _ in draws])
        covered = np.mean((ends[:, 0] <= truth) & (truth <= ends[:, 1]))
        assert covered >= 0.94, (q, covered)  # 0.95 within 3 Monte Carlo sd (0.0034)


def test_width_matches_the_bootstrap_where_wilson_is_too_wide() -> None:
    """n = 1000 pairs, 30% inconsistent: the width of the percentile bootstrap over pairs."""
    n, runs = 1000, 100
    rng = np.random.default_rng(7)
    for q in (0.5, 0.7, 0.861, 0.95):
        widths = {"credit": [], "wilson": [], "bootstrap": []}
        for seed, (wins, halves, losses) in enumerate(rng.multinomial(n, shares(0.3, q), runs)):
            counts = np.array([wins, halves, losses])
            boot = percentile_interval(resample(counts, 1000, seed) @ CREDIT / n, 0.95)
            assert boot is not None
            for name, (low, high) in (
                ("credit", credit_interval(wins, halves, n)),
                ("wilson", wilson_interval(wins + halves / 2, n)),
                ("bootstrap", boot),
            ):
                widths[name].append(high - low)
        bootstrap = np.mean(widths["bootstrap"])
        assert np.mean(widths["credit"]) / bootstrap == pytest.approx(1, abs=0.03)
        assert np.mean(widths["wilson"]) / bootstrap > 1.15  # measured 1.20 to 1.42


@pytest.mark.parametrize(("wins", "n"), [(0, 10), (3, 10), (10, 10), (43, 50), (861, 1000)])
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_without_half_credits_it_is_agresti_coull(wins: int, n: int, confidence: float) -> None:
    low, high = proportion_confint(wins, n, alpha=1 - confidence, method="agresti_coull")
    expected = (max(0.0, low), min(1.0, high))
    assert credit_interval(wins, 0, n, confidence) == pytest.approx(expected, abs=1e-12)


def test_no_pairs_and_impossible_counts() -> None:
    assert credit_interval(0, 0, 0) == pytest.approx((0.0, 1.0))
    with pytest.raises(ValueError, match="outside"):
        credit_interval(4, 3, 6)
