"""0015 (probes) up and down on PostgreSQL and SQLite: runs keep their data."""

from typing import Any

from sqlalchemy import Connection, Engine, create_engine, inspect, text

from judge_service.db import migrate
from tests.db.test_migrations import RUBRIC_COLUMNS, empty_db, insert_run

__all__ = ["empty_db"]  # the fixture, for both databases
ADDED = {"probe_of", "probe"}
RUN = {"mode": "live", "cache": True, "spent_usd": 0, **RUBRIC_COLUMNS}


def _run_columns(engine: Engine) -> set[str]:
    return {c["name"] for c in inspect(engine).get_columns("runs")}


def _kept(conn: Connection) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in conn.execute(text("SELECT id, name FROM runs ORDER BY id"))]


def test_0015_links_probe_runs_to_their_source_and_its_way_down_keeps_the_runs(
    empty_db: str,
) -> None:
    migrate.upgrade(empty_db, "0014")
    engine = create_engine(empty_db)
    before = _run_columns(engine)
    with engine.begin() as conn:
        (project_id,) = conn.execute(text("SELECT id FROM projects")).one()
        insert_run(conn, 1, **(RUN | {"project_id": project_id}))

    migrate.upgrade(empty_db, "0015")
    assert _run_columns(engine) == before | ADDED
    (fk,) = [
        f
        for f in inspect(engine).get_foreign_keys("runs")
        if f["constrained_columns"] == ["probe_of"]
    ]
    assert (fk["referred_table"], fk["referred_columns"]) == ("runs", ["id"])
    assert fk["options"].get("ondelete", "").upper() == "CASCADE"
    with engine.begin() as conn:
        old = conn.execute(text("SELECT probe_of, probe FROM runs WHERE id = 1")).one()
        assert tuple(old) == (None, None)  # an existing run is an ordinary run
        insert_run(
            conn,
            2,
            **(
                RUN
                | {"project_id": project_id, "name": "probe", "probe_of": 1, "probe": "drop_images"}
            ),
        )
        assert _kept(conn) == [(1, "old"), (2, "probe")]

    migrate.downgrade(empty_db, "0014")
    assert _run_columns(engine) == before
    with engine.connect() as conn:
        assert _kept(conn) == [(1, "old"), (2, "probe")]

    migrate.upgrade(empty_db)
    assert _run_columns(engine) >= ADDED
    engine.dispose()
