"""Pairwise preference figures from the candidate's side.

A pair judged in both orders gets one outcome per judge: the verdict when the
two orders agree, `inconsistent` when they do not (MT-Bench's rule: a judge
that flips with the order has not expressed a preference). `win_rate` gives
ties and inconsistent pairs half credit. Definitions: docs/statistics.md.

Row-level helpers (`combine_orders`, `panel_outcome`) serve per-pair pages; the
array versions (`pair_outcomes`, `panel_outcomes`) serve whole runs and agree
with them by construction (tested).
"""

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from statistics import NormalDist

import numpy as np
from scipy.stats import binomtest

from judge_service.stats.frame import NO_VERDICT


class Outcome(StrEnum):
    WIN = "candidate"
    LOSS = "baseline"
    TIE = "tie"
    INCONSISTENT = "inconsistent"


# Integer outcome codes of the array functions; NO_OUTCOME marks a pair without one.
WIN, LOSS, TIE, INCONSISTENT = 1, -1, 0, 2
NO_OUTCOME = NO_VERDICT
OUTCOME_CODES = {
    Outcome.WIN: WIN,
    Outcome.LOSS: LOSS,
    Outcome.TIE: TIE,
    Outcome.INCONSISTENT: INCONSISTENT,
}


def combine_orders(verdicts: Sequence[str]) -> Outcome:
    """One judge's outcome for a pair from its per-order verdicts (baseline/candidate/tie)."""
    if not verdicts:
        raise ValueError("no verdicts to combine")
    first = verdicts[0]
    if any(v != first for v in verdicts[1:]):
        return Outcome.INCONSISTENT
    return Outcome(first)


def panel_outcome(outcomes: Sequence[Outcome]) -> Outcome:
    """Majority of the judges' outcomes; no strict majority counts as a tie."""
    if not outcomes:
        raise ValueError("no outcomes to combine")
    (top, count), *_ = Counter(outcomes).most_common(1)
    return top if count * 2 > len(outcomes) else Outcome.TIE


def pair_outcomes(first: np.ndarray, second: np.ndarray | None = None) -> np.ndarray:
    """`combine_orders` over arrays of verdict codes (1, -1, 0, NO_VERDICT) per order.

    A pair lacking a verdict in any order gets NO_OUTCOME. Without `second` (one order)
    the outcome is the verdict itself.
    """
    first = np.asarray(first, dtype=np.int8)
    if second is None:
        return first.copy()
    second = np.asarray(second, dtype=np.int8)
    out = np.where(first == second, first, np.int8(INCONSISTENT)).astype(np.int8)
    out[(first == NO_VERDICT) | (second == NO_VERDICT)] = NO_OUTCOME
    return out


def panel_outcomes(outcomes: np.ndarray) -> np.ndarray:
    """`panel_outcome` over a (judges, pairs) array; NO_OUTCOME unless every judge has one."""
    outcomes = np.asarray(outcomes, dtype=np.int8)
    judges = outcomes.shape[0]
    panel = np.full(outcomes.shape[1], TIE, dtype=np.int8)
    for code in (WIN, LOSS, TIE, INCONSISTENT):
        votes = (outcomes == code).sum(axis=0)
        panel[votes * 2 > judges] = code
    panel[(outcomes == NO_OUTCOME).any(axis=0)] = NO_OUTCOME
    return panel


def _z(confidence: float) -> float:
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def wilson_interval(successes: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval; stays inside [0, 1] and behaves near 0 and 1, unlike Wald's."""
    if n <= 0:
        return (0.0, 1.0)
    if not 0 <= successes <= n:
        raise ValueError(f"successes {successes} outside 0..{n}")
    z = _z(confidence)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # The interval contains p mathematically; min/max keep rounding from breaking that at 0, 1.
    return (max(0.0, min(centre - half, p)), min(1.0, max(centre + half, p)))


def credit_interval(
    wins: int, halves: int, n: int, confidence: float = 0.95
) -> tuple[float, float]:
    """Interval on a mean credit (win 1, tie or inconsistent 1/2, loss 0) from its own variance.

    Agresti-Coull carried over to credits: add z²/2 pseudo-wins and z²/2 pseudo-losses, then
    take the augmented sample's mean ± z·√(variance / (n + z²)). Wilson's interval would
    treat each half credit as a coin flip, far too wide when many pairs are ties or
    inconsistent; the pseudo-pairs keep a small sample of ties from a zero-width interval.
    Without half credits this is Agresti-Coull, close to Wilson (docs/statistics.md).
    With no pairs it is [0, 1], from the pseudo-pairs alone.
    """
    if wins < 0 or halves < 0 or wins + halves > n:
        raise ValueError(f"{wins} wins and {halves} half credits outside 0..{n} pairs")
    z2 = _z(confidence) ** 2
    size = n + z2
    mean = (wins + halves / 2 + z2 / 2) / size
    variance = (wins + halves / 4 + z2 / 2) / size - mean * mean
    half = math.sqrt(z2 * variance / size)
    # The interval contains the sample mean (the pseudo-pairs' variance outweighs their pull).
    return (max(0.0, mean - half), min(1.0, mean + half))


def sign_test(wins: int, losses: int) -> float | None:
    """Two-sided exact sign test p-value: are decisive pairs split evenly? None without any."""
    if wins + losses == 0:
        return None
    return float(binomtest(wins, wins + losses, 0.5, alternative="two-sided").pvalue)


@dataclass(frozen=True)
class PreferenceSummary:
    """Pair-level figures from the candidate's side (docs/statistics.md, "Preference")."""

    n: int
    wins: int
    losses: int
    ties: int
    inconsistent: int
    missing: int
    win_rate: float | None
    win_rate_ci: tuple[float, float] | None
    position_consistency: float | None
    missing_reasons: dict[str, int] = field(default_factory=dict)
    win_rate_bootstrap_ci: tuple[float, float] | None = None
    preferred_rate: float | None = None
    preferred_rate_ci: tuple[float, float] | None = None
    decisive_win_rate: float | None = None
    decisive_win_rate_ci: tuple[float, float] | None = None
    sign_test_p: float | None = None


def summarize_counts(
    wins: int,
    losses: int,
    ties: int,
    inconsistent: int,
    missing: int = 0,
    *,
    swapped: bool,
    confidence: float = 0.95,
    bootstrap_ci: tuple[float, float] | None = None,
    missing_reasons: dict[str, int] | None = None,
) -> PreferenceSummary:
    """Every pair-level figure from the outcome counts (the bootstrap interval is passed in)."""
    wins, losses, ties, inconsistent = int(wins), int(losses), int(ties), int(inconsistent)
    n = wins + losses + ties + inconsistent
    reasons = dict(missing_reasons or {})
    if n == 0:
        return PreferenceSummary(0, 0, 0, 0, 0, int(missing), None, None, None, reasons)
    credit = wins + 0.5 * (ties + inconsistent)
    decisive = wins + losses
    return PreferenceSummary(
        n=n,
        wins=wins,
        losses=losses,
        ties=ties,
        inconsistent=inconsistent,
        missing=int(missing),
        win_rate=credit / n,
        win_rate_ci=credit_interval(wins, ties + inconsistent, n, confidence),
        position_consistency=(n - inconsistent) / n if swapped else None,
        missing_reasons=reasons,
        win_rate_bootstrap_ci=bootstrap_ci,
        preferred_rate=wins / n,
        preferred_rate_ci=wilson_interval(wins, n, confidence),
        decisive_win_rate=wins / decisive if decisive else None,
        decisive_win_rate_ci=wilson_interval(wins, decisive, confidence) if decisive else None,
        sign_test_p=sign_test(wins, losses),
    )
