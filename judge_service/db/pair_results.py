"""Per-pair outcomes of a run, one page at a time.

`GET /stats` summarises a run; a researcher digging into the losses needs the
same outcomes pair by pair. They are combined here with the very functions the
summary uses (`combine_orders`, `panel_outcome`), so a page of pairs always
adds up to the figures `GET /stats` reports.
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from judge_service.db.models import Judgment, JudgmentStatus, Pair, Run
from judge_service.db.queries import run_orders
from judge_service.stats.preference import Outcome, combine_orders, panel_outcome


@dataclass(frozen=True)
class PairOutcomes:
    pair_id: int
    external_id: str
    metadata: dict[str, Any]
    per_judge: dict[str, Outcome | None]  # None until every order of that judge is done
    panel: Outcome | None  # None until every judge has an outcome


@dataclass(frozen=True)
class PairOutcomesPage:
    items: list[PairOutcomes]
    next_after_id: int | None  # None on the last page


def pair_outcomes_page(session: Session, run: Run, after_id: int, limit: int) -> PairOutcomesPage:
    """Pairs with id > `after_id` in id order, at most `limit`, with their outcomes.

    Keyset paging (not OFFSET) so a page costs the same at the end of a
    million-pair run as at its start, and pairs added meanwhile are not skipped.
    """
    pairs = session.execute(
        select(Pair.id, Pair.external_id, Pair.meta)
        .where(Pair.run_id == run.id, Pair.id > after_id)
        .order_by(Pair.id)
        .limit(limit + 1)
    ).all()
    more = len(pairs) > limit
    pairs = pairs[:limit]
    if not pairs:
        return PairOutcomesPage(items=[], next_after_id=None)
    # A range on pair_id uses the (pair_id, judge, order) unique index; run_id
    # keeps out other runs' pairs whose ids fall inside the range.
    verdicts = session.execute(
        select(Judgment.pair_id, Judgment.judge, Judgment.verdict).where(
            Judgment.run_id == run.id,
            Judgment.status == JudgmentStatus.DONE,
            Judgment.verdict.is_not(None),
            Judgment.pair_id >= pairs[0].id,
            Judgment.pair_id <= pairs[-1].id,
        )
    ).all()
    by_pair: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for pair_id, judge, verdict in verdicts:
        assert verdict is not None  # the query keeps only judgments with a verdict
        by_pair[pair_id][judge].append(verdict)
    orders = len(run_orders(run))
    items = [
        PairOutcomes(
            pair_id=pair_id,
            external_id=external_id,
            metadata=meta or {},
            **combine(by_pair.get(pair_id, {}), run.judges, orders),
        )
        for pair_id, external_id, meta in pairs
    ]
    return PairOutcomesPage(items=items, next_after_id=pairs[-1].id if more else None)


def combine(verdicts: dict[str, list[str]], judges: Sequence[str], orders: int) -> dict[str, Any]:
    """One pair's per-judge and panel outcomes from its done verdicts, as `build_report` does."""
    per_judge: dict[str, Outcome | None] = {}
    for judge in judges:
        got = verdicts.get(judge, [])
        per_judge[judge] = combine_orders(got) if len(got) == orders else None
    complete = [outcome for outcome in per_judge.values() if outcome is not None]
    panel = panel_outcome(complete) if judges and len(complete) == len(judges) else None
    return {"per_judge": per_judge, "panel": panel}
