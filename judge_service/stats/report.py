"""A run's figures from its judgment rows: per judge, and for the panel of judges."""

from collections import Counter, defaultdict
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
    verdict: str | None  # None unless the call is done and has a verdict on the criterion
    status: str = "done"
    error_kind: str | None = None


def missing_reason(rows: Sequence[VerdictRow], orders: int) -> str | None:
    """Why a judge has no outcome for a pair, or None when it has one."""
    if len(rows) == orders and all(row.verdict is not None for row in rows):
        return None
    failed = [row.error_kind or "failed" for row in rows if row.status == "failed"]
    if failed:
        return failed[0]
    if rows and all(row.status == "done" for row in rows) and len(rows) == orders:
        return "criterion_not_judged"
    return "pending"


@dataclass(frozen=True)
class RunReport:
    panel: PreferenceSummary
    per_judge: dict[str, PreferenceSummary]


def build_report(
    pair_ids: Sequence[int], rows: Iterable[VerdictRow], judges: Sequence[str], orders: int
) -> RunReport:
    """`orders` is how many orders each pair is judged in (2 with swap, else 1)."""
    by_pair: dict[tuple[int, str], list[VerdictRow]] = defaultdict(list)
    for row in rows:
        by_pair[(row.pair_id, row.judge)].append(row)

    outcomes: dict[str, list[Outcome | None]] = {judge: [] for judge in judges}
    reasons: dict[str, Counter[str]] = {judge: Counter() for judge in judges}
    panel: list[Outcome | None] = []
    panel_reasons: Counter[str] = Counter()
    for pair_id in pair_ids:
        pair_outcomes: list[Outcome | None] = []
        pair_reasons: list[str] = []
        for judge in judges:
            got = by_pair.get((pair_id, judge), [])
            reason = missing_reason(got, orders)
            outcome = None if reason else combine_orders([row.verdict or "" for row in got])
            if reason:
                reasons[judge][reason] += 1
                pair_reasons.append(reason)
            outcomes[judge].append(outcome)
            pair_outcomes.append(outcome)
        complete = [o for o in pair_outcomes if o is not None]
        panel.append(panel_outcome(complete) if len(complete) == len(judges) else None)
        if pair_reasons:
            panel_reasons[pair_reasons[0]] += 1

    swapped = orders == 2
    per_judge = {
        judge: replace(summarize(outcomes[judge], swapped), missing_reasons=dict(reasons[judge]))
        for judge in judges
    }
    return RunReport(
        panel=replace(
            summarize(panel, swapped),
            position_consistency=_pooled_consistency(per_judge),
            missing_reasons=dict(panel_reasons),
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
