"""Queries the API needs, kept out of the route functions."""

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Row, case, func, insert, literal, select, text, true, union_all
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from judge_service.db.models import Judgment, JudgmentStatus, Pair, Run, UTCDateTime, utcnow
from judge_service.judging.verdicts import Order
from judge_service.stats.frame import row_reason

PAIR_INPUT_COLUMNS = (
    "external_id",
    "question",
    "reference_answer",
    "image_urls",
    "meta",
    "baseline_trace",
    "candidate_trace",
)
# Pair ids per IN list: under both drivers' bound-parameter limits.
INSERT_BATCH = 500


@dataclass(frozen=True)
class RunCounts:
    pairs: int = 0
    judgments_expected: int = 0
    judgments_done: int = 0
    judgments_failed: int = 0
    judgments_skipped: int = 0  # left when the run stopped, decided: never judged
    judgments_running: int = 0
    failed_by_reason: dict[str, int] = field(default_factory=dict)
    spent_usd: float = 0.0  # the run's running total of its judgments' stored costs
    budget_usd: float | None = None

    @property
    def status(self) -> str:
        """pending, running, done, or budget_exhausted: unfinished, nothing in flight, and
        its spend has reached its budget, so nothing more is claimed until it is raised.
        A run stopped by its rule is done once its calls in flight are stored."""
        finished = self.judgments_done + self.judgments_failed + self.judgments_skipped
        if self.judgments_expected and finished == self.judgments_expected:
            return "done"
        if self.budget_exhausted and not self.judgments_running:
            return "budget_exhausted"
        if finished or self.judgments_running:
            return "running"
        return "pending"

    @property
    def budget_exhausted(self) -> bool:
        return self.budget_usd is not None and self.spent_usd >= self.budget_usd


# A judgment's error kind if it failed, else NULL: failures by kind in the same GROUP BY.
FAILED_KIND = case((Judgment.status == JudgmentStatus.FAILED, Judgment.error_kind))


@dataclass(frozen=True)
class IngestRun:
    """What storing and queueing a run's pairs needs of it. None of it changes once the run
    exists (a PATCH changes only its budget), so an API process keeps it (`api/ingest_runs.py`).
    """

    id: int
    project_id: int
    judges: tuple[str, ...]
    swap: bool
    mode: str
    stops: bool = False  # has a stop rule: its pairs are queued in a random order

    @classmethod
    def of(cls, run: Run) -> "IngestRun":
        return cls(
            run.id, run.project_id, tuple(run.judges), run.swap, run.mode, run.stop_when is not None
        )


def run_orders(run: Run | IngestRun) -> list[Order]:
    return [Order.BASELINE_FIRST, Order.CANDIDATE_FIRST] if run.swap else [Order.BASELINE_FIRST]


def run_counts(session: Session, run_ids: Sequence[int]) -> dict[int, RunCounts]:
    if not run_ids:
        return {}
    pairs = dict(
        session.execute(
            select(Pair.run_id, func.count()).where(Pair.run_id.in_(run_ids)).group_by(Pair.run_id)
        ).all()
    )
    budgets = {
        run_id: (budget, spent)
        for run_id, budget, spent in session.execute(
            select(Run.id, Run.budget_usd, Run.spent_usd).where(Run.id.in_(run_ids))
        )
    }
    by_status: dict[int, dict[str, int]] = {}
    reasons: dict[int, dict[str, int]] = {}
    # One pass: counts by status, and by error kind among the failed.
    for run_id, status, error_kind, count in session.execute(
        select(Judgment.run_id, Judgment.status, FAILED_KIND, func.count())
        .where(Judgment.run_id.in_(run_ids))
        .group_by(Judgment.run_id, Judgment.status, FAILED_KIND)
    ).all():
        statuses = by_status.setdefault(run_id, {})
        statuses[status] = statuses.get(status, 0) + count
        if status == JudgmentStatus.FAILED:
            reasons.setdefault(run_id, {})[row_reason(status, error_kind)] = count
    counts = {}
    for run_id in run_ids:
        statuses = by_status.get(run_id, {})
        counts[run_id] = RunCounts(
            pairs=pairs.get(run_id, 0),
            judgments_expected=sum(statuses.values()),
            judgments_done=statuses.get(JudgmentStatus.DONE, 0),
            judgments_failed=statuses.get(JudgmentStatus.FAILED, 0),
            judgments_skipped=statuses.get(JudgmentStatus.SKIPPED, 0),
            judgments_running=statuses.get(JudgmentStatus.RUNNING, 0),
            failed_by_reason=reasons.get(run_id, {}),
            spent_usd=budgets[run_id][1] if run_id in budgets else 0.0,
            budget_usd=budgets[run_id][0] if run_id in budgets else None,
        )
    return counts


@dataclass(frozen=True)
class JudgmentCount:
    judge: str
    status: str
    reason: str | None  # why it failed (`row_reason`); None unless failed
    count: int


def judgment_counts(session: Session) -> list[JudgmentCount]:
    """Judgments by judge, status and failure reason over every run and project, in SQL."""
    rows = session.execute(
        select(Judgment.judge, Judgment.status, FAILED_KIND, func.count()).group_by(
            Judgment.judge, Judgment.status, FAILED_KIND
        )
    ).all()
    return [
        JudgmentCount(
            judge,
            status,
            row_reason(status, kind) if status == JudgmentStatus.FAILED else None,
            count,
        )
        for judge, status, kind, count in rows
    ]


def insert_pairs(
    session: Session, run: Run | IngestRun, pairs: Sequence[dict[str, Any]]
) -> dict[str, int]:
    """Insert pairs new to the run with their judgments; returns their ids by external id,
    in id order (the order submitted).

    A pair whose `external_id` the run already has is skipped by the unique
    constraint itself, so two concurrent submissions cannot both insert it. Each
    new pair gets one pending judgment per judge and order, made by the database
    from the new ids, so no judgment row crosses the wire.
    """
    if not pairs:
        return {}
    slots = [(judge, order.value) for judge in run.judges for order in run_orders(run)]
    if session.get_bind().dialect.name == "postgresql":
        return _insert_postgresql(session, run.id, pairs, slots)
    return _insert_sqlite(session, run.id, pairs, slots)


# One statement, one round trip, compiled once. The pairs travel as one JSON document:
# psycopg sends a string as it is, where arrays of strings cost it a regex per element
# (70% of a 10,000-pair post). Ids are drawn in the order submitted (pages follow it), rows
# are inserted in `external_id` order, and the judgments are made from the ids the insert
# returns. Inserted in one order, two submissions sharing new ids wait for each other but
# never in a cycle: in any order PostgreSQL would end one as a deadlock (each inserted row
# holds its unique-index entry until commit).
INSERT_PAIRS_POSTGRESQL = text(
    """
WITH submitted AS (
    SELECT nextval(pg_get_serial_sequence('pairs', 'id')) AS id, s.*
    FROM (
        SELECT * FROM json_to_recordset(CAST(:pairs AS json)) AS u(
            position integer, external_id text, question text, reference_answer text,
            image_urls jsonb, meta jsonb, baseline_trace text, candidate_trace text
        )
        ORDER BY position
    ) AS s
),
new AS (
    INSERT INTO pairs (id, run_id, external_id, question, reference_answer, image_urls,
                       metadata, baseline_trace, candidate_trace, baseline_chars,
                       candidate_chars, created_at)
    SELECT id, :run_id, external_id, question, reference_answer, image_urls, meta,
           baseline_trace, candidate_trace, char_length(baseline_trace),
           char_length(candidate_trace), :created
    FROM submitted ORDER BY external_id
    ON CONFLICT (run_id, external_id) DO NOTHING
    RETURNING id, external_id
),
judgments_made AS (
    INSERT INTO judgments (run_id, pair_id, judge, "order", status, attempts, created_at)
    SELECT :run_id, new.id, slot.judge, slot.slot_order, :pending, 0, :created
    FROM new CROSS JOIN unnest(CAST(:judges AS text[]), CAST(:orders AS text[]))
        AS slot(judge, slot_order)
)
SELECT external_id, id FROM new ORDER BY id
"""
)


def _insert_postgresql(
    session: Session, run_id: int, pairs: Sequence[dict[str, Any]], slots: list[tuple[str, str]]
) -> dict[str, int]:
    document = json.dumps(
        [
            {"position": position, **{column: pair[column] for column in PAIR_INPUT_COLUMNS}}
            for position, pair in enumerate(pairs)
        ]
    )
    params = {
        "pairs": document,
        "run_id": run_id,
        "created": utcnow(),
        "pending": JudgmentStatus.PENDING.value,
        "judges": [judge for judge, _ in slots],
        "orders": [order for _, order in slots],
    }
    return {
        external_id: pair_id
        for external_id, pair_id in session.execute(INSERT_PAIRS_POSTGRESQL, params)
    }


def _insert_sqlite(
    session: Session, run_id: int, pairs: Sequence[dict[str, Any]], slots: list[tuple[str, str]]
) -> dict[str, int]:
    """One executemany of a statement compiled once, then INSERT ... SELECT for the judgments.

    (SQLite has one writer at a time: no lock order to keep.)
    """
    rows = [
        {
            **pair,
            "run_id": run_id,
            "baseline_chars": len(pair["baseline_trace"]),
            "candidate_chars": len(pair["candidate_trace"]),
        }
        for pair in pairs
    ]
    stmt = (
        sqlite.insert(Pair)
        .on_conflict_do_nothing(index_elements=["run_id", "external_id"])
        .returning(Pair.id, Pair.external_id)
    )
    new = {external_id: pair_id for pair_id, external_id in sorted(session.execute(stmt, rows))}
    new_ids = list(new.values())
    # (judge, order) as rows, in SQL SQLite reads (it has no VALUES with column aliases).
    slot_rows = union_all(
        *(
            select(literal(judge).label("judge"), literal(order).label("order"))
            for judge, order in slots
        )
    ).subquery("slots")
    created = utcnow()
    columns = ["run_id", "pair_id", "judge", "order", "status", "attempts", "created_at"]
    for start in range(0, len(new_ids), INSERT_BATCH):
        made = select(
            Pair.run_id,
            Pair.id,
            slot_rows.c.judge,
            slot_rows.c.order,
            literal(JudgmentStatus.PENDING.value),
            literal(0),
            literal(created, UTCDateTime()),
        )
        made = made.join_from(Pair, slot_rows, true()).where(
            Pair.id.in_(new_ids[start : start + INSERT_BATCH])
        )
        session.execute(insert(Judgment).from_select(columns, made))
    return new


JUDGMENT_EXPORT_COLUMNS = (
    Judgment.id,
    Pair.external_id,
    Judgment.judge,
    Judgment.order,
    Judgment.status,
    Judgment.verdict,
    Judgment.label,
    Judgment.strong,
    Judgment.rationale,
    Judgment.axes,
    Judgment.images_sent,
    Judgment.attempts,
    Judgment.judge_model,
    Judgment.input_tokens,
    Judgment.output_tokens,
    Judgment.cached_input_tokens,
    Judgment.reasoning_tokens,
    Judgment.system_fingerprint,
    Judgment.cost_usd,
    Judgment.cached_from_id,
    Judgment.latency_ms,
    Judgment.error_kind,
    Judgment.error,
    Run.rubric_name.label("rubric"),
    Run.rubric_version,
    Judgment.template_id,
    Judgment.template_sha256,
    Judgment.prompt_sha256,
    Judgment.boundary,
    Judgment.raw_response,
    Judgment.created_at,
    Judgment.finished_at,
)


def iter_judgments(session: Session, run_id: int, batch: int = 1000) -> Iterator[Row[Any]]:
    """Every judge call of a run, in id order, fetched in batches so memory stays flat."""
    query = (
        select(*JUDGMENT_EXPORT_COLUMNS)
        .join(Pair, Pair.id == Judgment.pair_id)
        .join(Run, Run.id == Judgment.run_id)
        .where(Judgment.run_id == run_id)
        .order_by(Judgment.id)
        .execution_options(yield_per=batch)
    )
    yield from session.execute(query)
