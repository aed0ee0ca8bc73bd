"""A run's figures from its judgment rows: per judge, and for the panel of judges."""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from judge_service.stats.preference import (
    Outcome,
    PreferenceSummary,
    combine_orders,
    panel_outcome,
    summarize,
)


@dataclass(frozen=True)
class VerdictRow:
    pair_id: int
    judge: str
    order: str
    verdict: str | None  # None unless the call is done and parsed


@dataclass(frozen=True)
class RunReport:
    panel: PreferenceSummary
    per_judge: dict[str, PreferenceSummary]


def build_report(
    pair_ids: Sequence[int], rows: Iterable[VerdictRow], judges: Sequence[str], orders: int
) -> RunReport:
    """`orders` is how many orders each pair is judged in (2 with swap, else 1)."""
    verdicts: dict[tuple[int, str], list[str]] = defaultdict(list)
    for row in rows:
        if row.verdict is not None:
            verdicts[(row.pair_id, row.judge)].append(row.verdict)

    outcomes: dict[str, list[Outcome | None]] = {judge: [] for judge in judges}
    panel: list[Outcome | None] = []
    for pair_id in pair_ids:
        pair_outcomes: list[Outcome | None] = []
        for judge in judges:
            got = verdicts.get((pair_id, judge), [])
            outcome = combine_orders(got) if len(got) == orders else None
            outcomes[judge].append(outcome)
            pair_outcomes.append(outcome)
        complete = [o for o in pair_outcomes if o is not None]
        panel.append(panel_outcome(complete) if len(complete) == len(judges) else None)

    swapped = orders == 2
    per_judge = {judge: summarize(outcomes[judge], swapped) for judge in judges}
    return RunReport(
        panel=replace(
            summarize(panel, swapped), position_consistency=_pooled_consistency(per_judge)
        ),
        per_judge=per_judge,
    )


def _pooled_consistency(per_judge: dict[str, PreferenceSummary]) -> float | None:
    """Share of (pair, judge) outcomes whose orders agree.

    A majority vote hides each judge's flips, so the panel's own outcomes say
    nothing about position consistency; the judges' pooled outcomes do.
    """
    n = sum(s.n for s in per_judge.values())
    if not n or any(s.position_consistency is None for s in per_judge.values()):
        return None
    return sum(s.n - s.inconsistent for s in per_judge.values()) / n
