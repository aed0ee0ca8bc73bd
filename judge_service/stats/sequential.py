"""Stopping when decided: an anytime-valid confidence sequence for a running mean in [0, 1].

A fixed-n interval recomputed after every chunk and acted on as soon as it looks decided
covers the truth far less often than it claims (the more looks, the worse). A confidence
sequence covers the truth at every time at once with the stated probability, so a run may
be watched after every chunk and stopped whenever its rule holds.

The sequence is the predictable plug-in empirical-Bernstein one (PrPl-EB) of Waudby-Smith
and Ramdas, "Estimating means of bounded random variables by betting", JRSS-B 2024,
Theorem 2, as the `confseq` package computes it (`predmix_empbern_twosided_cs`; the tests
check each bound against the paper's capital process, step by step): closed form, so a
whole run, or ten thousand simulated runs at once, is a few cumulative sums. Each side is a
lower sequence at level alpha / 2 (the upper one from 1 - x), and the reported bounds are
their running intersection, which is as valid and never widens. Docs: docs/statistics.md,
"Stopping when decided".
"""

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

FIGURES = ("win_rate",)  # the panel's half-credit win rate: win 1, tie or inconsistent 1/2
DEFAULT_CONFIDENCE = 0.95
TRUNCATION = 0.5  # largest bet; the paper's and confseq's default
PRIOR_MEAN, PRIOR_VARIANCE = 0.5, 0.25  # one pseudo-observation regularises the first bets


def _shifted(values: np.ndarray, first: float) -> np.ndarray:
    """values[..., t - 1] at position t (`first` at 0): what was known before each credit."""
    head = np.full((*values.shape[:-1], 1), first)
    return np.concatenate([head, values[..., :-1]], axis=-1)


def _lower_sequence(x: np.ndarray, alpha: float, truncation: float) -> np.ndarray:
    """PrPl-EB lower bounds at level alpha after each observation along the last axis."""
    t = np.arange(1, x.shape[-1] + 1)
    total = np.cumsum(x, axis=-1)
    # The bets: predictable, from the regularised running mean and variance before each credit.
    mean = np.minimum((PRIOR_MEAN + total) / (t + 1), 1.0)
    variance = (PRIOR_VARIANCE + np.cumsum((x - mean) ** 2, axis=-1)) / (t + 1)
    log_alpha = np.log(1 / alpha)
    bets = np.sqrt(2 * log_alpha / (t * np.log1p(t) * _shifted(variance, PRIOR_VARIANCE)))
    bets = np.minimum(bets, truncation)
    # The empirical-Bernstein penalty: each credit's squared distance from the mean before it.
    spread = (x - _shifted(total / t, 0.0)) ** 2
    psi = -np.log1p(-bets) - bets
    weight = np.cumsum(bets, axis=-1)
    centre = np.cumsum(bets * x, axis=-1) / weight
    margin = (log_alpha + np.cumsum(spread * psi, axis=-1)) / weight
    bound: np.ndarray = np.maximum(centre - margin, 0.0)
    return bound


def confidence_sequence(
    credits: ArrayLike, confidence: float = DEFAULT_CONFIDENCE, truncation: float = TRUNCATION
) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds after each credit (along the last axis), valid at every time.

    Credits must lie in [0, 1] and arrive in an order unrelated to their values (the service
    judges a run's pairs in a random order for this). Rows of a 2-D array are separate runs.
    """
    x = np.asarray(credits, dtype=np.float64)
    if x.size and (x.min() < 0 or x.max() > 1):
        raise ValueError("credits must lie in [0, 1]")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), not {confidence}")
    alpha = (1 - confidence) / 2
    lower = _lower_sequence(x, alpha, truncation)
    upper = 1 - _lower_sequence(1 - x, alpha, truncation)
    return np.maximum.accumulate(lower, axis=-1), np.minimum.accumulate(upper, axis=-1)


@dataclass(frozen=True)
class StopRule:
    """When a run stops: its sequence excludes a value, or is at most `half_width` wide."""

    excludes: float | None = None
    half_width: float | None = None
    figure: str = FIGURES[0]
    confidence: float = DEFAULT_CONFIDENCE

    def __post_init__(self) -> None:
        if (self.excludes is None) == (self.half_width is None):
            raise ValueError("a stop rule has exactly one of excludes and half_width")
        if self.figure not in FIGURES:
            raise ValueError(f"unknown figure {self.figure!r}; supported: {list(FIGURES)}")

    @classmethod
    def of(cls, document: Mapping[str, Any]) -> "StopRule":
        return cls(**document)

    def as_json(self) -> dict[str, Any]:
        return {name: value for name, value in asdict(self).items() if value is not None}

    def decided(self, lower: float, upper: float) -> bool:
        if self.excludes is not None:
            return not lower <= self.excludes <= upper
        assert self.half_width is not None
        return (upper - lower) / 2 <= self.half_width

    def reason(self, pairs: int, lower: float, upper: float) -> str:
        """Why the run stopped, in a sentence the API and the dashboard show."""
        level = f"{100 * self.confidence:g}%"
        if self.excludes is not None:
            what = f"excluded {self.excludes:g}"
        else:
            what = f"had a half-width of {(upper - lower) / 2:.3f} (at most {self.half_width:g})"
        return (
            f"the {level} confidence sequence for {self.figure} {what} after {pairs} pairs: "
            f"[{lower:.2f}, {upper:.2f}]"
        )


@dataclass(frozen=True)
class SequenceTrack:
    """A run's sequence so far: bounds after each pair, in the order pairs got an outcome."""

    lower: np.ndarray
    upper: np.ndarray

    @property
    def pairs(self) -> int:
        return int(self.lower.size)

    @property
    def last(self) -> tuple[float, float] | None:
        return (float(self.lower[-1]), float(self.upper[-1])) if self.pairs else None


def track(credits: ArrayLike, rule: StopRule) -> SequenceTrack:
    lower, upper = confidence_sequence(credits, rule.confidence)
    return SequenceTrack(lower, upper)


def decision(sequence: SequenceTrack, rule: StopRule) -> str | None:
    """The stop reason if the rule holds after the latest pair, else None."""
    last = sequence.last
    if last is None or not rule.decided(*last):
        return None
    return rule.reason(sequence.pairs, *last)
