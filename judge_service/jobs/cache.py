"""Never pay twice: a claimed judgment already judged identically in its project is copied.

The key (`jobs/cache_key.py`) covers everything that decides the verdict, so a done judgment
with the same key answers the same question; the copy is stored under the claim like any
result, at zero tokens and zero cost, naming the judgment first judged (`cached_from_id`).
A run created with `"cache": false` always calls. Only done judgments are reused: a failure
may be transient and is worth a call.
"""

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from judge_service.db.models import Judgment, JudgmentStatus
from judge_service.jobs.claims import Result, WorkItem, store_in


def reuse_cached(
    sessions: sessionmaker[Session], items: list[WorkItem], token: str
) -> tuple[list[WorkItem], list[WorkItem]]:
    """Store a copy for every item with a cached twin; returns (items to call, items copied)."""
    with sessions.begin() as session:
        return reuse_in(session, items, token)


def reuse_in(
    session: Session, items: list[WorkItem], token: str
) -> tuple[list[WorkItem], list[WorkItem]]:
    """`reuse_cached` in the caller's transaction (batch mode: the one that claimed them).

    A copy is no batch's answer, so it keeps no `batch_id`.
    """
    keys = {item.cache_key for item in items if item.reuse and item.cache_key}
    if not keys:
        return items, []
    found = _done_twins(session, list(keys), [item.judgment_id for item in items])
    copies = [
        (item, _copy(found[item.cache_key]))
        for item in items
        if item.reuse and item.cache_key in found
    ]
    stored = store_in(session, token, copies)
    copied = [item for (item, _copy_result), written in zip(copies, stored, strict=True) if written]
    done = {item.judgment_id for item in copied}
    if done:
        session.execute(
            update(Judgment)
            .where(Judgment.id.in_(sorted(done)))
            .values(batch_id=None)
            .execution_options(synchronize_session=False)
        )
    return [item for item in items if item.judgment_id not in done], copied


def _done_twins(session: Session, keys: list[str], exclude: list[int]) -> dict[str, Judgment]:
    """The oldest done judgment per key, none of `exclude` (the claim's own rows)."""
    rows = session.scalars(
        select(Judgment)
        .where(
            Judgment.cache_key.in_(keys),
            Judgment.status == JudgmentStatus.DONE,
            Judgment.id.not_in(exclude),
        )
        .order_by(Judgment.id)
    )
    twins: dict[str, Judgment] = {}
    for row in rows:
        assert row.cache_key is not None
        twins.setdefault(row.cache_key, row)
    return twins


def _copy(source: Judgment) -> Result:
    """The source's verdict as a result of its own: nothing called, nothing paid."""
    return Result(
        JudgmentStatus.DONE,
        judge_model=source.judge_model,
        raw_response=source.raw_response,
        label=source.label,
        verdict=source.verdict,
        strong=source.strong,
        rationale=source.rationale,
        axes=source.axes,
        input_tokens=0,
        output_tokens=0,
        cached_input_tokens=0,
        cached_from_id=source.cached_from_id or source.id,
    )
