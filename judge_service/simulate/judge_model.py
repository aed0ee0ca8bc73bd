"""A judge with position bias and per-call error, as a statistical model (no prompts, no I/O).

The simulated provider (decision.py) answers real prompts by a fixed rule; this draws verdicts
straight from the model docs/statistics.md ("Why the swap is needed") works with, so that
its formulas for what such a judge does to the figures can be checked: bench/judge_model.py
prints the table, tests/stats/test_judge_model.py holds the docs to it. The figures come
from the service's own functions.
"""

from dataclasses import dataclass

import numpy as np

from judge_service.stats.bias import first_slot_rate
from judge_service.stats.preference import (
    INCONSISTENT,
    LOSS,
    TIE,
    WIN,
    pair_outcomes,
    summarize_counts,
)


@dataclass(frozen=True)
class Figures:
    """The figures of one run (None as the service gives it), or their expected values."""

    win_rate: float | None
    decisive_win_rate: float | None
    position_consistency: float | None
    first_slot_rate: float | None


def predict(truth: float, bias: float, error: float) -> Figures:
    """The expected figures: the formulas of docs/statistics.md (error 0: the error-free ones)."""
    consistency = (1 - bias) * (1 - 2 * (1 - bias) * error * (1 - error))
    shift = (truth - 0.5) * (1 - bias) * (1 - 2 * error)
    return Figures(
        win_rate=0.5 + shift,
        decisive_win_rate=0.5 + shift / consistency,
        position_consistency=consistency,
        first_slot_rate=(1 + bias) / 2,
    )


def simulate(
    truth: float, bias: float, error: float, *, pairs: int, repeats: int, seed: int
) -> list[Figures]:
    """`repeats` runs of `pairs` pairs, each judged in both orders by the model's judge.

    The candidate is truly better on each pair with probability `truth` (no true ties). In
    every call the judge names slot A with probability `bias` whatever the content; otherwise
    it names the better trace with probability 1 - `error` and the worse with `error`.
    """
    rng = np.random.default_rng(seed)
    better = rng.random((repeats, pairs)) < truth
    verdicts = []
    for slot_a in (-1, 1):  # order 0: the baseline sits in slot A; order 1: the candidate
        right = rng.random((repeats, pairs)) >= error
        content = np.where(better == right, 1, -1)
        verdicts.append(np.where(rng.random((repeats, pairs)) < bias, slot_a, content))
    outcomes = pair_outcomes(verdicts[0], verdicts[1])
    order = np.repeat(np.array([0, 1], dtype=np.int8), pairs)
    runs = []
    for outcome, first, second in zip(outcomes, *verdicts, strict=True):
        counts = (int((outcome == code).sum()) for code in (WIN, LOSS, TIE, INCONSISTENT))
        summary = summarize_counts(*counts, swapped=True)
        slot = first_slot_rate(np.concatenate([first, second]), order)
        runs.append(
            Figures(
                win_rate=summary.win_rate,
                decisive_win_rate=summary.decisive_win_rate,
                position_consistency=summary.position_consistency,
                first_slot_rate=slot.rate,
            )
        )
    return runs
