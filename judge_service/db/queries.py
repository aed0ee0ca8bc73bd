"""Queries the API needs, kept out of the route functions."""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Row, case, func, insert, literal, select, true, union_all
from sqlalchemy.dialects import postgresql, sqlite
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
    judgments_running: int = 0
    failed_by_reason: dict[str, int] = field(default_factory=dict)
    spent_usd: float = 0.0  # stored costs
    budget_usd: float | None = None

    @property
    def status(self) -> str:
        """pending, running, done, or budget_exhausted: unfinished, nothing in flight, and
        its spend has reached its budget, so nothing more is claimed until it is raised."""
        finished = self.judgments_done + self.judgments_failed
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


def run_orders(run: Run) -> list[Order]:
    return [Order.BASELINE_FIRST, Order.CANDIDATE_FIRST] if run.swap else [Order.BASELINE_FIRST]


def run_counts(session: Session, run_ids: Sequence[int]) -> dict[int, RunCounts]:
    if not run_ids:
        return {}
    pairs = dict(
        session.execute(
            select(Pair.run_id, func.count()).where(Pair.run_id.in_(run_ids)).group_by(Pair.run_id)
        ).all()
    )
    budgets = dict(session.execute(select(Run.id, Run.budget_usd).where(Run.id.in_(run_ids))).all())
    by_status: dict[int, dict[str, int]] = {}
    reasons: dict[int, dict[str, int]] = {}
    spent: dict[int, float] = {}
    # One pass: counts by status, and by error kind among the failed; stored spend.
    for run_id, status, error_kind, count, cost in session.execute(
        select(
            Judgment.run_id,
            Judgment.status,
            FAILED_KIND,
            func.count(),
            func.coalesce(func.sum(Judgment.cost_usd), 0.0),
        )
        .where(Judgment.run_id.in_(run_ids))
        .group_by(Judgment.run_id, Judgment.status, FAILED_KIND)
    ).all():
        spent[run_id] = spent.get(run_id, 0.0) + float(cost)
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
            judgments_running=statuses.get(JudgmentStatus.RUNNING, 0),
            failed_by_reason=reasons.get(run_id, {}),
            spent_usd=spent.get(run_id, 0.0),
            budget_usd=budgets.get(run_id),
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


def insert_pairs(session: Session, run: Run, pairs: Sequence[dict[str, Any]]) -> list[int]:
    """Insert pairs new to the run with their judgments; returns the new pair ids.

    A pair whose `external_id` the run already has is skipped by the unique
    constraint itself, so two concurrent submissions cannot both insert it. The
    pairs go in as one executemany of a statement compiled once (SQLAlchemy batches
    it into multi-row INSERTs); their judgments are made by the database from the
    new ids, a row per judge and order, so no judgment row crosses the wire.
    """
    dialect = session.get_bind().dialect.name
    dialect_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    if not pairs:
        return []
    rows = [
        {
            **pair,
            "run_id": run.id,
            "baseline_chars": len(pair["baseline_trace"]),
            "candidate_chars": len(pair["candidate_trace"]),
        }
        for pair in pairs
    ]
    if dialect == "postgresql":
        rows = _in_lock_order(session, rows)
    stmt = (
        dialect_insert(Pair)
        .on_conflict_do_nothing(index_elements=["run_id", "external_id"])
        .returning(Pair.id)
    )
    new_ids = sorted(session.scalars(stmt, rows).all())
    # (judge, order) as rows, in SQL both dialects read (SQLite has no VALUES with aliases).
    slots = union_all(
        *(
            select(literal(judge).label("judge"), literal(order.value).label("order"))
            for judge in run.judges
            for order in run_orders(run)
        )
    ).subquery("slots")
    created = utcnow()
    for start in range(0, len(new_ids), INSERT_BATCH):
        made = select(
            Pair.run_id,
            Pair.id,
            slots.c.judge,
            slots.c.order,
            literal(JudgmentStatus.PENDING.value),
            literal(0),
            literal(created, UTCDateTime()),
        )
        made = made.join_from(Pair, slots, true()).where(
            Pair.id.in_(new_ids[start : start + INSERT_BATCH])
        )
        columns = ["run_id", "pair_id", "judge", "order", "status", "attempts", "created_at"]
        session.execute(insert(Judgment).from_select(columns, made))
    return new_ids


def _in_lock_order(session: Session, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows with ids drawn in the order given, then sorted by `external_id` for inserting.

    An inserted row holds its (run, external_id) entry of the unique index until commit, and
    a concurrent submission naming the same id waits for it. Two submissions sharing ids in
    different orders would each hold what the other waits for, and PostgreSQL would end one
    as a deadlock (a 500). Inserted in one order, they wait for each other but never in a
    cycle. Drawing the ids first keeps them in the order submitted, which pages follow.
    (SQLite has one writer at a time: nothing to order.)
    """
    sequence = func.pg_get_serial_sequence(Pair.__tablename__, "id")
    ids = sorted(
        session.scalars(
            select(func.nextval(sequence)).select_from(func.generate_series(1, len(rows)))
        )
    )
    numbered = [{**row, "id": pair_id} for row, pair_id in zip(rows, ids, strict=True)]
    return sorted(numbered, key=lambda row: row["external_id"])


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
