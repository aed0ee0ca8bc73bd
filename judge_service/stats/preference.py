"""Pairwise preference figures from the candidate's side.

A pair judged in both orders gets one outcome per judge: the verdict when the
two orders agree, `inconsistent` when they do not (MT-Bench's rule: a judge
that flips with the order has not expressed a preference). `win_rate` gives
ties and inconsistent pairs half credit.
"""

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from statistics import NormalDist


class Outcome(StrEnum):
    WIN = "candidate"
    LOSS = "baseline"
    TIE = "tie"
    INCONSISTENT = "inconsistent"


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


def wilson_interval(successes: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval; stays inside [0, 1] and behaves near 0 and 1, unlike Wald's."""
    if n <= 0:
        return (0.0, 1.0)
    if not 0 <= successes <= n:
        raise ValueError(f"successes {successes} outside 0..{n}")
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass(frozen=True)
class PreferenceSummary:
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


def summarize(outcomes: Iterable[Outcome | None], swapped: bool) -> PreferenceSummary:
    """Counts, half-credit win rate with its Wilson interval, and position consistency.

    `None` marks a pair without a usable outcome (a call failed or is still
    pending); it is counted as missing and left out of `n`.
    """
    counts: Counter[Outcome | None] = Counter(outcomes)
    missing = counts.pop(None, 0)
    n = sum(counts.values())
    wins, losses = counts[Outcome.WIN], counts[Outcome.LOSS]
    ties, inconsistent = counts[Outcome.TIE], counts[Outcome.INCONSISTENT]
    if n == 0:
        return PreferenceSummary(0, 0, 0, 0, 0, missing, None, None, None)
    credit = wins + 0.5 * (ties + inconsistent)
    return PreferenceSummary(
        n=n,
        wins=wins,
        losses=losses,
        ties=ties,
        inconsistent=inconsistent,
        missing=missing,
        win_rate=credit / n,
        win_rate_ci=wilson_interval(credit, n),
        position_consistency=(n - inconsistent) / n if swapped else None,
    )
