"""The confidence sequence behind `stop_when`: the paper's definition, and valid when peeked at."""

import numpy as np
import pytest
from scipy.stats import norm

from judge_service.stats.sequential import (
    StopRule,
    confidence_sequence,
    decision,
    track,
)

TRUTH = 0.861
# A real run's shape: most pairs won, some tied or order-inconsistent (half credit), a few
# lost; win + half / 2 = 0.861.
HALF = 0.18
SHARES = {1.0: TRUTH - HALF / 2, 0.5: HALF, 0.0: 1 - TRUTH - HALF / 2}
CHUNK = 10  # the service checks after every chunk of pairs (tests use chunk_size 10)


def credits(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.choice(list(SHARES), size=shape, p=list(SHARES.values()))


def _log_capital(x: np.ndarray, m: float, alpha: float) -> np.ndarray:
    """The paper's PrPl-EB capital process for mean m, one step at a time, in plain Python.

    Waudby-Smith and Ramdas (JRSS-B 2024), Theorem 2: bets chosen before each credit from
    the regularised running mean and variance, capped at 0.5; the capital is
    sum(bet * (x - m)) - sum(psi(bet) * (x - previous mean)^2), psi(b) = -log(1 - b) - b.
    The lower sequence at level alpha is the set of m whose capital stays below log(1/alpha).
    """
    log_alpha = np.log(1 / alpha)
    total = squares = 0.0
    variance_before, plain_mean_before = 0.25, 0.0
    capital, out = 0.0, []
    for t, value in enumerate(x, start=1):
        bet = min(np.sqrt(2 * log_alpha / (variance_before * t * np.log1p(t))), 0.5)
        psi = -np.log1p(-bet) - bet
        capital += bet * (value - m) - psi * (value - plain_mean_before) ** 2
        out.append(capital)
        total += value
        mean = min((0.5 + total) / (t + 1), 1.0)
        squares += (value - mean) ** 2
        variance_before = (0.25 + squares) / (t + 1)
        plain_mean_before = total / t
    return np.array(out)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_the_bounds_are_where_the_papers_capital_process_crosses_its_threshold(
    seed: int, confidence: float
) -> None:
    """Each bound, before the running intersection, is the m where the capital reaches
    log(1/alpha): just below it the capital is over, just above it under."""
    rng = np.random.default_rng(seed)
    x = np.concatenate([credits(rng, (150,)), rng.uniform(0, 1, 100)])
    alpha = (1 - confidence) / 2
    lower, upper = confidence_sequence(x, confidence)
    threshold = np.log(1 / alpha)
    raw_lower = np.full(x.size, np.nan)
    for t in range(x.size):
        # The capital is linear in m, so two evaluations place the crossing exactly.
        at0 = _log_capital(x[: t + 1], 0.0, alpha)[-1]
        at1 = _log_capital(x[: t + 1], 1.0, alpha)[-1]
        raw_lower[t] = max(0.0, at0 - threshold) / (at0 - at1) if at0 > threshold else 0.0
    np.testing.assert_allclose(lower, np.maximum.accumulate(raw_lower), rtol=0, atol=1e-12)
    for t in (10, 100, 249):
        m = lower[t]
        if raw_lower[t] == m and m > 0:
            assert _log_capital(x[: t + 1], m - 1e-6, alpha)[-1] > threshold
            assert _log_capital(x[: t + 1], m + 1e-6, alpha)[-1] < threshold
    # The upper side is the lower side of 1 - x.
    np.testing.assert_allclose(upper, 1 - confidence_sequence(1 - x, confidence)[0], atol=1e-12)
    # Each row of a 2-D array is its own run.
    rows = np.stack([x, x[::-1]])
    lower_rows, _ = confidence_sequence(rows, confidence)
    np.testing.assert_allclose(lower_rows[0], lower, rtol=0, atol=1e-12)
    np.testing.assert_allclose(lower_rows[1], confidence_sequence(x[::-1], confidence)[0])


def test_the_sequence_covers_the_truth_at_every_peek_where_a_fixed_n_interval_does_not() -> None:
    """4,000 seeded runs of 1,000 pairs, looked at after every chunk of 10."""
    rng = np.random.default_rng(20261207)
    x = credits(rng, (4000, 1000))
    peeks = np.arange(CHUNK - 1, x.shape[1], CHUNK)
    lower, upper = confidence_sequence(x, 0.95)
    covered = ((lower[:, peeks] <= TRUTH) & (upper[:, peeks] >= TRUTH)).all(axis=1)
    assert covered.mean() >= 0.95

    # The 95% normal interval on the credits' variance, recomputed at each peek: what a
    # dashboard refreshed after every chunk would show. Peeking breaks it.
    n = peeks + 1
    mean = np.cumsum(x, axis=1)[:, peeks] / n
    spread = np.sqrt((np.cumsum(x**2, axis=1)[:, peeks] / n - mean**2) / n)
    z = norm.ppf(0.975)
    fixed = ((mean - z * spread <= TRUTH) & (mean + z * spread >= TRUTH)).all(axis=1)
    assert fixed.mean() < 0.8


def test_with_truth_0861_the_sequence_excludes_one_half_after_a_few_dozen_pairs() -> None:
    rng = np.random.default_rng(7)
    x = credits(rng, (1000, 1000))
    lower, _ = confidence_sequence(x)
    first = np.argmax(lower > 0.5, axis=1) + 1
    assert (lower[:, -1] > 0.5).all()
    assert np.median(first) <= 40
    assert np.quantile(first, 0.99) <= 80


def test_a_rule_decides_on_the_latest_bounds_and_says_why() -> None:
    excludes = StopRule(excludes=0.5)
    assert excludes.decided(0.62, 0.91) and excludes.decided(0.1, 0.4)
    assert not excludes.decided(0.45, 0.9)
    assert excludes.reason(143, 0.6249, 0.9101) == (
        "the 95% confidence sequence for win_rate excluded 0.5 after 143 pairs: [0.62, 0.91]"
    )
    narrow = StopRule(half_width=0.03, confidence=0.9)
    assert narrow.decided(0.80, 0.86) and not narrow.decided(0.80, 0.8601 + 0.0001)
    assert narrow.reason(900, 0.8, 0.86).startswith(
        "the 90% confidence sequence for win_rate had a half-width of 0.030 (at most 0.03)"
    )
    assert StopRule.of({"excludes": 0.5, "confidence": 0.99}).as_json() == {
        "excludes": 0.5,
        "figure": "win_rate",
        "confidence": 0.99,
    }

    x = np.ones(40)
    assert decision(track(x[:3], excludes), excludes) is None
    reason = decision(track(x, excludes), excludes)
    assert reason is not None and "after 40 pairs" in reason
    assert decision(track(np.zeros(0), excludes), excludes) is None


@pytest.mark.parametrize(
    "document",
    [{}, {"excludes": 0.5, "half_width": 0.1}, {"excludes": 0.5, "figure": "decisive_win_rate"}],
)
def test_a_rule_needs_one_condition_on_a_supported_figure(document: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        StopRule.of(document)


def test_credits_outside_zero_one_are_refused() -> None:
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        confidence_sequence([0.5, 1.5])
