"""0014 (reasoning judges) up and down on PostgreSQL and SQLite: judgments keep their data."""

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
ADDED = {"reasoning_tokens", "system_fingerprint", "thinking"}


def _judgment_columns(url: str) -> set[str]:
    engine = create_engine(url)
    columns = {c["name"] for c in inspect(engine).get_columns("judgments")}
    engine.dispose()
    return columns


def _kept(conn: Connection) -> list[tuple[Any, ...]]:
    rows = conn.execute(
        text("SELECT id, status, verdict, output_tokens FROM judgments ORDER BY id")
    )
    return [tuple(row) for row in rows]


def test_0014_adds_reasoning_columns_and_its_way_down_drops_only_them(empty_db: str) -> None:
    migrate.upgrade(empty_db, "0013")
    before = _judgment_columns(empty_db)
    engine = create_engine(empty_db)
    with engine.begin() as conn:
        (project_id,) = conn.execute(text("SELECT id FROM projects")).one()
        insert_run(
            conn, 1, project_id=project_id, mode="live", cache=True, spent_usd=0, **RUBRIC_COLUMNS
        )
        insert_pair(conn, 1, 1, baseline_chars=2, candidate_chars=2)
        insert_judgment(conn, 1, 1, verdict="candidate", output_tokens=40)

    migrate.upgrade(empty_db, "0014")
    assert _judgment_columns(empty_db) == before | ADDED
    with engine.begin() as conn:
        old = conn.execute(
            text("SELECT reasoning_tokens, system_fingerprint, thinking FROM judgments")
        ).one()
        assert tuple(old) == (None, None, None)  # an existing judgment reported none
        conn.execute(
            text(
                "UPDATE judgments SET reasoning_tokens = 30, system_fingerprint = 'fp_1', "
                "thinking = 'weighing both traces'"
            )
        )
        assert _kept(conn) == [(1, "done", "candidate", 40)]

    migrate.downgrade(empty_db, "0013")
    assert _judgment_columns(empty_db) == before
    with engine.connect() as conn:
        assert _kept(conn) == [(1, "done", "candidate", 40)]

    migrate.upgrade(empty_db)
    assert _judgment_columns(empty_db) >= ADDED
    engine.dispose()
