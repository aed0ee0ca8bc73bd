"""Has a judge moved? The same pairs judged by the same judge twice, compared pair by pair.

A drift check re-judges a fixed reference set; each pair then has two outcomes from one judge
(before, after). Because the pairs are the same, the change in win rate is estimated from
the PAIRED differences of each pair's credit (win 1, tie or inconsistent 1/2, loss 0): a
paired t interval on their mean. Treating the two checks as independent proportions would
ignore that most pairs get the same outcome twice and give a much wider interval, the more
so the more the checks agree.

The rule (docs/drift.md): `drifted` when that interval excludes 0, so a judge that has not
moved is flagged at the stated rate (1 - confidence) and no more. Agreement and Cohen's
kappa say how much the verdicts moved pair by pair; they are reported, not tested, because
a stochastic judge does not agree with itself fully and how fully is not known beforehand.
"""

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import t as student_t

from judge_service.stats.agreement import cohen_kappa
from judge_service.stats.preference import INCONSISTENT, LOSS, NO_OUTCOME, TIE, WIN


@dataclass(frozen=True)
class DriftComparison:
    """Two judgings of the same pairs by one judge: `before` (earlier), `after` (this check)."""

    pairs: int  # pairs with an outcome in both
    agreement: float | None  # share of those with the same outcome
    kappa: float | None  # Cohen's kappa over the four outcomes
    win_rate_before: float | None
    win_rate_after: float | None
    win_rate_change: float | None  # after - before
    win_rate_change_ci: tuple[float, float] | None  # paired t interval; None under 2 pairs
    drifted: bool  # the interval excludes 0
    confidence: float


def credits(outcomes: np.ndarray) -> np.ndarray:
    """Win-rate credit per pair: win 1, loss 0, tie or inconsistent 1/2 (NaN: no outcome)."""
    outcomes = np.asarray(outcomes)
    out = np.full(outcomes.shape, np.nan)
    out[outcomes == WIN] = 1.0
    out[outcomes == LOSS] = 0.0
    out[(outcomes == TIE) | (outcomes == INCONSISTENT)] = 0.5
    return out


def paired_change_interval(
    differences: np.ndarray, confidence: float = 0.95
) -> tuple[float, float] | None:
    """Student t interval on the mean of paired differences; None with fewer than 2.

    All differences equal gives a zero-width interval at their value: every pair moved the
    same way (or none moved), which no sampling error explains.
    """
    differences = np.asarray(differences, dtype=np.float64)
    n = differences.size
    if n < 2:
        return None
    mean = float(differences.mean())
    sd = float(differences.std(ddof=1))
    half = float(student_t.ppf(0.5 + confidence / 2, n - 1)) * sd / math.sqrt(n)
    return (mean - half, mean + half)


def compare_outcomes(
    before: np.ndarray, after: np.ndarray, confidence: float = 0.95
) -> DriftComparison:
    """Compare one judge's pair outcomes (codes of stats.preference) on the same pairs.

    `before[i]` and `after[i]` are the same pair; pairs without an outcome in either are left
    out. See the module docstring for the test and the `drifted` rule.
    """
    before, after = np.asarray(before), np.asarray(after)
    if before.shape != after.shape:
        raise ValueError(f"{before.shape} outcomes before, {after.shape} after: not paired")
    both = (before != NO_OUTCOME) & (after != NO_OUTCOME)
    before, after = before[both], after[both]
    n = int(both.sum())
    if n == 0:
        return DriftComparison(0, None, None, None, None, None, None, False, confidence)
    old, new = credits(before), credits(after)
    interval = paired_change_interval(new - old, confidence)
    return DriftComparison(
        pairs=n,
        agreement=float(np.mean(before == after)),
        kappa=cohen_kappa(before, after),
        win_rate_before=float(old.mean()),
        win_rate_after=float(new.mean()),
        win_rate_change=float(new.mean() - old.mean()),
        win_rate_change_ci=interval,
        drifted=interval is not None and (interval[0] > 0 or interval[1] < 0),
        confidence=confidence,
    )


def version_warnings(versions: dict[str, list[str]]) -> list[str]:
    """A warning per judge whose replies in one run reported more than one version: its
    figures mix two judges under one name."""
    return [
        f"judge {judge!r} changed version during the run ({', '.join(found)}): its figures "
        "mix verdicts of different models; rerun the run, or run a drift check on it"
        for judge, found in versions.items()
        if len(found) > 1
    ]
