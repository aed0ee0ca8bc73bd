"""How often a probe changed a judge's verdicts, and what that says (pure numpy).

A probe run re-judges a sample of a run's pairs with one controlled change (judging/probes.py).
Per judge and axis, each pair's outcome in the probe run (both orders combined, as the run's
figures combine them) is compared with the same pair's outcome in the source run. A pair
counts when it has an outcome in both. "Changed" is any difference of outcome; its direction
is the change of the candidate's credit (win 1, tie or inconsistent 1/2, loss 0), so a tie
turning into an inconsistent pair is a change toward neither side.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from judge_service.stats.preference import NO_OUTCOME, wilson_interval
from judge_service.stats.report import pair_credit

# A probe "moves" the judge when the changed share's interval lies above this, and does not
# when it lies below twice this: re-judging identical pairs need not give identical verdicts.
MOVED_ABOVE = 0.10
STILL_BELOW = 0.20

# Per probe kind: the change in words, and the finding when the judge stays or moves.
PHRASES: dict[str, tuple[str, str, str]] = {
    "drop_images": (
        "when the images were removed",
        "is not image-grounded",
        "depends on the images",
    ),
    "swap_answers": (
        "when the final answers were exchanged",
        "ignores the final answers",
        "follows the final answers",
    ),
    "pad_length": (
        "when one trace was padded to twice its length",
        "is not moved by length",
        "is moved by length alone",
    ),
    "shuffle_rationale": (
        "when the reasoning steps were reordered",
        "does not depend on the order of the reasoning",
        "depends on the order of the reasoning steps",
    ),
}


@dataclass(frozen=True)
class ProbeComparison:
    """One judge on one axis: the probe's pairs against the same pairs in the source run."""

    n: int  # pairs with an outcome in both runs
    changed: int
    changed_share: float | None  # None when n is 0
    changed_ci: tuple[float, float] | None
    toward_candidate: int  # the candidate's credit rose
    toward_baseline: int  # the candidate's credit fell


def aligned(source_keys: Sequence[str], probe_keys: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Indices into each sequence of the keys (external ids) both hold, in the probe's order."""
    where = {key: index for index, key in enumerate(source_keys)}
    pairs = [(where[key], index) for index, key in enumerate(probe_keys) if key in where]
    source = np.array([s for s, _ in pairs], dtype=np.intp)
    probe = np.array([p for _, p in pairs], dtype=np.intp)
    return source, probe


def compare_outcomes(
    source: np.ndarray, probe: np.ndarray, confidence: float = 0.95
) -> ProbeComparison:
    """Changed share (Wilson interval) and direction over matched pairs' outcome codes."""
    source = np.asarray(source, dtype=np.int8)
    probe = np.asarray(probe, dtype=np.int8)
    both = (source != NO_OUTCOME) & (probe != NO_OUTCOME)
    source, probe = source[both], probe[both]
    n = int(both.sum())
    changed = int((source != probe).sum())
    shift = pair_credit(probe) - pair_credit(source)
    return ProbeComparison(
        n=n,
        changed=changed,
        changed_share=changed / n if n else None,
        changed_ci=wilson_interval(changed, n, confidence) if n else None,
        toward_candidate=int((shift > 0).sum()),
        toward_baseline=int((shift < 0).sum()),
    )


def reading(kind: str, judge: str, axis: str | None, comparison: ProbeComparison) -> str:
    """One line: how often the verdict stayed, under which change, and what that says."""
    change, still, moved = PHRASES[kind]
    what = "overall verdict" if axis is None else f"{axis} axis"
    if comparison.n == 0 or comparison.changed_share is None or comparison.changed_ci is None:
        return f"{judge}: no pair has a {what} in both runs yet {change}."
    unchanged = round(100 * (comparison.n - comparison.changed) / comparison.n)
    said = f"{judge}: verdict unchanged in {unchanged}% of {comparison.n} pairs {change}"
    low, high = comparison.changed_ci
    if low > MOVED_ABOVE:
        return f"{said}: the {what} {moved}."
    if high < STILL_BELOW:
        return f"{said}: the {what} {still}."
    return f"{said}: too few pairs to say whether the {what} {moved}."
