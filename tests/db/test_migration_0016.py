"""0016 (drift checks) up and down on PostgreSQL and SQLite: new tables only; runs stay."""

from sqlalchemy import create_engine, inspect, text

from judge_service.db import migrate
from tests.db.test_migrations import RUBRIC_COLUMNS, empty_db, insert_pair, insert_run

__all__ = ["empty_db"]  # the fixture, for both databases
ADDED = {"drift_references", "drift_checks"}


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    return tables


def test_0016_adds_drift_tables_and_its_way_down_drops_only_them(empty_db: str) -> None:
    migrate.upgrade(empty_db, "0015")
    before = _tables(empty_db)
    assert not ADDED & before
    engine = create_engine(empty_db)
    with engine.begin() as conn:
        (project_id,) = conn.execute(text("SELECT id FROM projects")).one()
        for run_id in (1, 2):
            insert_run(
                conn,
                run_id,
                project_id=project_id,
                mode="live",
                cache=True,
                spent_usd=0,
                **RUBRIC_COLUMNS,
            )
        insert_pair(conn, 1, 1, baseline_chars=2, candidate_chars=2)

    migrate.upgrade(empty_db, "0016")
    assert _tables(empty_db) == before | ADDED
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO drift_references (id, project_id, judge, run_id, pair_ids, sample, "
                "seed, created_at) VALUES (1, :project, 'sim', 1, '[1]', 1, 7, CURRENT_TIMESTAMP)"
            ),
            {"project": project_id},
        )
        conn.execute(
            text(
                "INSERT INTO drift_checks (id, project_id, judge, reference_id, run_id, "
                "judge_config, created_at) VALUES (1, :project, 'sim', 1, 2, "
                '\'{"model": "m"}\', CURRENT_TIMESTAMP)'
            ),
            {"project": project_id},
        )
        check = conn.execute(text("SELECT reference_id, run_id FROM drift_checks")).one()
        assert tuple(check) == (1, 2)

    migrate.downgrade(empty_db, "0015")
    assert _tables(empty_db) == before
    with engine.connect() as conn:
        # The check's run and the reference run are ordinary runs again, with their pairs.
        assert conn.execute(text("SELECT id FROM runs ORDER BY id")).scalars().all() == [1, 2]
        assert conn.execute(text("SELECT count(*) FROM pairs")).scalar_one() == 1

    migrate.upgrade(empty_db)
    assert _tables(empty_db) >= ADDED
    engine.dispose()
