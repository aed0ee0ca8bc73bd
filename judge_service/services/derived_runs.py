"""Runs made from another run's pairs: a rerun, and any later run that re-judges what an
earlier one judged (the comparison is only fair when everything but the judging is equal).

The new run is flushed, not committed: the caller commits, then dispatches the returned pair
ids, so no job can look for a row that is not there yet.
"""

from collections.abc import Callable, Collection
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from judge_service.db.models import Pair, Run
from judge_service.db.queries import PAIR_INPUT_COLUMNS, insert_pairs

PairRow = dict[str, Any]


def derive_run(
    session: Session,
    source: Run,
    *,
    name: str,
    judges: list[str] | None = None,
    pair_ids: Collection[int] | None = None,
    transform: Callable[[PairRow], PairRow] | None = None,
) -> tuple[Run, list[int]]:
    """A run with `source`'s settings over its pairs (or those in `pair_ids`), each passed
    through `transform` if given, judged by `judges` (default: the source's), cache off.

    The cache is off because a derived run exists to ask the judges again: a cached copy of
    the source's verdicts would only repeat them. Returns the run and its new pair ids.
    """
    names = list(source.judges) if judges is None else judges
    run = Run(
        project_id=source.project_id,
        name=name,
        baseline=source.baseline,
        candidate=source.candidate,
        judges=names,
        swap=source.swap,
        rubric_name=source.rubric_name,
        rubric_version=source.rubric_version,
        rubric=source.rubric,
        judge_configs={k: v for k, v in source.judge_configs.items() if k in names},
        scale=source.scale,
        strong_weight=source.strong_weight,
        mode=source.mode,
        cache=False,
        budget_usd=source.budget_usd,
        stop_when=source.stop_when,
    )
    session.add(run)
    session.flush()
    query = select(Pair).where(Pair.run_id == source.id).order_by(Pair.id)
    if pair_ids is not None:
        query = query.where(Pair.id.in_(list(pair_ids)))
    rows = [
        {column: getattr(pair, column) for column in PAIR_INPUT_COLUMNS}
        for pair in session.scalars(query)
    ]
    if transform is not None:
        rows = [transform(row) for row in rows]
    return run, list(insert_pairs(session, run, rows).values())
