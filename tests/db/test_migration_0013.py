"""0013 (stop rules) up and down on PostgreSQL and SQLite: no judgment is lost either way."""

import json
from typing import Any

from sqlalchemy import Connection, create_engine, inspect, text

from judge_service.db import migrate
from tests.db.test_migrations import (
    RUBRIC_COLUMNS,
    empty_db,
    insert_judgment,
    insert_pair,
    insert_run,
)

__all__ = ["empty_db"]  # the fixture, for both databases
ADDED = {"stop_when", "stopped_at", "stop_reason"}


def _run_columns(url: str) -> set[str]:
    engine = create_engine(url)
    columns = {c["name"] for c in inspect(engine).get_columns("runs")}
    engine.dispose()
    return columns


def _statuses(conn: Connection) -> list[tuple[Any, ...]]:
    rows = conn.execute(text("SELECT id, status, claim_token, verdict FROM judgments ORDER BY id"))
    return [tuple(row) for row in rows]


def test_0013_adds_stop_rules_and_its_way_down_puts_skipped_judgments_back_to_pending(
    empty_db: str,
) -> None:
    migrate.upgrade(empty_db, "0012")
    engine = create_engine(empty_db)
    with engine.begin() as conn:
        (project_id,) = conn.execute(text("SELECT id FROM projects")).one()
        insert_run(
            conn, 1, project_id=project_id, mode="live", cache=True, spent_usd=0, **RUBRIC_COLUMNS
        )
        insert_pair(conn, 1, 1, baseline_chars=2, candidate_chars=2)
        insert_judgment(conn, 1, 1, order="baseline_first", verdict="candidate")
        insert_judgment(conn, 2, 1, order="candidate_first", status="pending", attempts=0)

    migrate.upgrade(empty_db, "0013")
    assert _run_columns(empty_db) >= ADDED
    with engine.begin() as conn:
        run = conn.execute(text("SELECT stop_when, stopped_at, stop_reason FROM runs")).one()
        assert tuple(run) == (None, None, None)  # an existing run judges every pair
        rule = json.dumps({"excludes": 0.5, "figure": "win_rate", "confidence": 0.95})
        conn.execute(
            text(
                "UPDATE runs SET stop_when = :rule, stopped_at = CURRENT_TIMESTAMP, "
                "stop_reason = 'decided'"
            ),
            {"rule": rule},
        )
        conn.execute(text("UPDATE judgments SET status = 'skipped' WHERE id = 2"))
        stored = conn.execute(text("SELECT stop_when FROM runs")).scalar_one()
    assert (stored if isinstance(stored, dict) else json.loads(stored))["excludes"] == 0.5

    migrate.downgrade(empty_db, "0012")
    assert not ADDED & _run_columns(empty_db)
    with engine.connect() as conn:
        # The skipped judgment is pending again, for a worker of that revision to judge.
        assert _statuses(conn) == [(1, "done", None, "candidate"), (2, "pending", None, None)]
        assert conn.execute(text("SELECT name FROM runs")).scalar_one() == "old"

    migrate.upgrade(empty_db)
    assert _run_columns(empty_db) >= ADDED
    with engine.connect() as conn:
        assert _statuses(conn) == [(1, "done", None, "candidate"), (2, "pending", None, None)]
    engine.dispose()
