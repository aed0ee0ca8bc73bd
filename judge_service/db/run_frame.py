"""Loading a run as columns for the statistics: the database extracts, numpy computes.

Verdict codes, judge and order indices, per-axis verdicts and strata are computed in SQL and
trace lengths are stored at insert, so only small integers cross the wire for a judged row,
never the traces themselves.
"""

from operator import itemgetter
from typing import Any

import numpy as np
from sqlalchemy import (
    ColumnElement,
    Select,
    SQLColumnExpression,
    String,
    case,
    cast,
    func,
    select,
    text,
)
from sqlalchemy.orm import Session

from judge_service.db.models import HumanLabel, Judgment, JudgmentStatus, Pair, Run
from judge_service.judging.verdicts import Order
from judge_service.stats.frame import NO_VERDICT, VERDICT_CODES, HumanLabels, RunFrame, row_reason

MISSING_STRATUM = "(none)"


def _fetch(session: Session, statement: Select[*tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Plain tuples from the driver's cursor, for the run's million-row judgment query.

    SQLAlchemy's Row objects cost three times the query itself at that size. The statement's
    values are rendered as escaped literals: run ids, judge names, a rubric axis, a metadata key.
    """
    connection = session.connection()
    sql = str(statement.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True}))
    if connection.dialect.paramstyle in ("format", "pyformat"):
        # Doubled for a driver that substitutes parameters; executed without any, "%" is "%".
        sql = sql.replace("%%", "%")
    cursor = connection.connection.cursor()
    try:
        cursor.execute(sql)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def _column(rows: list[tuple[Any, ...]], index: int) -> np.ndarray:
    return np.fromiter(map(itemgetter(index), rows), dtype=np.int64, count=len(rows))


def _metadata_value(dialect: str, key: str) -> ColumnElement[Any]:
    """A pair's metadata value under `key` as text, whatever characters the key holds.

    SQLite's JSON paths (`$."key"`) have no escape for a quote and compare a key's escaped
    form, so on SQLite the key is matched against json_each's decoded keys instead.
    """
    if dialect == "postgresql":
        value: ColumnElement[Any] = Pair.meta[key].as_string()
        return value
    entry = func.json_each(Pair.meta).table_valued("key", "value").alias("entry")
    return cast(select(entry.c.value).where(entry.c.key == key).scalar_subquery(), String)


def load_run_frame(
    session: Session, run: Run, *, axis: str | None = None, by: str | None = None
) -> tuple[RunFrame, np.ndarray]:
    """Every judge call of the run, and the pair ids in frame order.

    Verdicts are overall or on one rubric axis; strata come from metadata key `by`.
    """
    pairs = _fetch(
        session,
        select(Pair.id, Pair.baseline_chars, Pair.candidate_chars)
        .where(Pair.run_id == run.id)
        .order_by(Pair.id),
    )
    pair_ids, baseline_len, candidate_len = (_column(pairs, i) for i in range(3))

    strata: list[str] = []
    stratum = None
    if by:
        values = _fetch(
            session,
            select(_metadata_value(session.get_bind().dialect.name, by))
            .where(Pair.run_id == run.id)
            .order_by(Pair.id),
        )
        labels = [MISSING_STRATUM if value is None else value for (value,) in values]
        strata = sorted(set(labels))
        codes = {value: index for index, value in enumerate(strata)}
        stratum = np.fromiter((codes[v] for v in labels), dtype=np.int32, count=len(labels))

    if axis:
        verdict: SQLColumnExpression[Any] = Judgment.axes[(axis, "verdict")].as_string()
        strong: SQLColumnExpression[Any] = Judgment.axes[(axis, "strong")].as_boolean()
    else:
        verdict, strong = Judgment.verdict, Judgment.strong
    done = Judgment.status == JudgmentStatus.DONE
    # Small integers computed by the database: no strings cross the wire for judged rows.
    code = case(
        *((done & (verdict == name), value) for name, value in VERDICT_CODES.items()),
        else_=NO_VERDICT,
    )
    rows = _fetch(
        session,
        select(
            Judgment.pair_id,
            case(*((Judgment.judge == name, i) for i, name in enumerate(run.judges)), else_=-1),
            case((Judgment.order == Order.BASELINE_FIRST, 0), else_=1),
            code,
            case((done & (code != NO_VERDICT) & strong, 1), else_=0),
            case((code == NO_VERDICT, Judgment.status)),  # why there is no verdict
            case((code == NO_VERDICT, Judgment.error_kind)),
        ).where(Judgment.run_id == run.id, Judgment.judge.in_(run.judges)),
    )
    row_pair, judge, order, verdicts, strongs = (_column(rows, i) for i in range(5))
    reasons: list[str] = []
    reason_index: dict[str, int] = {}
    reason = np.full(len(rows), -1, dtype=np.int16)
    for i in np.flatnonzero(verdicts == NO_VERDICT).tolist():
        why = row_reason(rows[i][5], rows[i][6])
        if why not in reason_index:
            reason_index[why] = len(reasons)
            reasons.append(why)
        reason[i] = reason_index[why]
    return RunFrame(
        judges=list(run.judges),
        n_pairs=len(pairs),
        pair=np.searchsorted(pair_ids, row_pair).astype(np.int32),
        judge=judge.astype(np.int16),
        order=order.astype(np.int8),
        verdict=verdicts.astype(np.int8),
        strong=strongs.astype(bool),
        reason=reason,
        reasons=reasons,
        baseline_len=baseline_len,
        candidate_len=candidate_len,
        orders=2 if run.swap else 1,
        strong_weight=run.strong_weight,
        stratum=stratum,
        strata=strata,
    ), pair_ids


def load_human_labels(session: Session, run: Run, pair_ids: np.ndarray) -> HumanLabels | None:
    rows = session.execute(
        select(HumanLabel.pair_id, HumanLabel.annotator, HumanLabel.label).where(
            HumanLabel.run_id == run.id
        )
    ).all()
    if not rows:
        return None
    annotators: dict[str, int] = {}
    return HumanLabels(
        pair=np.searchsorted(pair_ids, np.array([r[0] for r in rows])).astype(np.int32),
        annotator=np.array(
            [annotators.setdefault(r[1], len(annotators)) for r in rows], dtype=np.int32
        ),
        label=np.array([VERDICT_CODES[r[2]] for r in rows], dtype=np.int8),
    )


def metadata_keys(session: Session, run: Run) -> list[str]:
    """The metadata keys the run's pairs use: what its figures can be broken down by."""
    if session.get_bind().dialect.name == "postgresql":
        sql = "SELECT DISTINCT jsonb_object_keys(metadata) FROM pairs WHERE run_id = :run"
    else:
        sql = "SELECT DISTINCT j.key FROM pairs, json_each(pairs.metadata) AS j WHERE run_id = :run"
    return sorted(key for (key,) in session.execute(text(sql), {"run": run.id}))
