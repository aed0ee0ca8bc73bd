"""Migrations run up and down on PostgreSQL (the target) and SQLite (the embedded default)."""

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, create_engine, inspect, text

from judge_service.db import migrate
from judge_service.db.models import Base

TABLES = {
    "runs",
    "pairs",
    "judgments",
    "rubrics",
    "human_labels",
    "projects",
    "api_keys",
    "provider_batches",
    "label_draws",
}


CREATED = datetime(2026, 11, 1, tzinfo=UTC)
# What 0002 added to every run, as the code of that time filled it in.
RUBRIC_COLUMNS = {
    "rubric_name": "general",
    "rubric_version": 1,
    "rubric": "{}",
    "judge_configs": "{}",
    "scale": "3-way",
    "strong_weight": 3,
}


def insert_row(conn: Connection, table: str, **values: Any) -> None:
    """A row in an older revision's schema: raw SQL, since the models are the latest one."""
    names = ", ".join(f'"{name}"' for name in values)
    params = ", ".join(f":{name}" for name in values)
    conn.execute(text(f"INSERT INTO {table} ({names}) VALUES ({params})"), values)


def insert_run(conn: Connection, run_id: int, **columns: Any) -> None:
    defaults = {"name": "old", "baseline": "b", "candidate": "c", "judges": '["j"]', "swap": True}
    insert_row(conn, "runs", id=run_id, **(defaults | {"created_at": CREATED} | columns))


def insert_pair(conn: Connection, pair_id: int, run_id: int, **columns: Any) -> None:
    defaults = {
        "external_id": "p",
        "question": "q",
        "image_urls": "[]",
        "metadata": "{}",
        "baseline_trace": "bt",
        "candidate_trace": "ct",
        "created_at": CREATED,
    }
    insert_row(conn, "pairs", id=pair_id, run_id=run_id, **(defaults | columns))


def insert_judgment(conn: Connection, judgment_id: int, run_id: int, **columns: Any) -> None:
    defaults = {
        "pair_id": run_id,
        "judge": "j",
        "order": "baseline_first",
        "status": "done",
        "attempts": 1,
        "created_at": CREATED,
    }
    insert_row(conn, "judgments", id=judgment_id, run_id=run_id, **(defaults | columns))


@pytest.fixture(params=["postgresql", "sqlite"])
def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'migrations.db'}"
    make: Callable[[], str] = request.getfixturevalue("make_pg_database")
    return make()


def test_upgrade_head_then_downgrade_base(empty_db: str) -> None:
    engine = create_engine(empty_db)
    migrate.upgrade(empty_db)
    inspector = inspect(engine)
    assert set(inspector.get_table_names()) >= TABLES
    uniques = {tuple(u["column_names"]) for u in inspector.get_unique_constraints("judgments")}
    assert ("pair_id", "judge", "order") in uniques

    migrate.downgrade(empty_db)
    assert not TABLES & set(inspect(engine).get_table_names())
    migrate.upgrade(empty_db)
    assert set(inspect(engine).get_table_names()) >= TABLES
    engine.dispose()


def test_models_match_migrations(empty_db: str) -> None:
    """A model change without its migration fails here."""
    migrate.upgrade(empty_db)
    engine = create_engine(empty_db)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert diff == []


def test_0002_keeps_existing_runs_and_describes_them(empty_db: str) -> None:
    """Rows written under 0001 survive 0002 up and down; new columns describe them truthfully."""
    migrate.upgrade(empty_db, "0001")
    engine = create_engine(empty_db)
    with engine.begin() as conn:
        insert_run(conn, 1)
        insert_pair(conn, 1, 1, metadata='{"modality": "CT"}')
        insert_judgment(conn, 1, 1, label="A", verdict="baseline")
    migrate.upgrade(empty_db)
    with engine.connect() as conn:
        run = conn.execute(text("SELECT * FROM runs")).mappings().one()
        judgment = conn.execute(text("SELECT * FROM judgments")).mappings().one()
    assert (run["name"], run["rubric_name"], run["rubric_version"], run["scale"]) == (
        "old",
        "general",
        1,
        "3-way",
    )
    rubric = run["rubric"] if isinstance(run["rubric"], dict) else json.loads(run["rubric"])
    assert rubric["name"] == "general" and rubric["axes"] == []
    assert (judgment["verdict"], judgment["axes"]) == ("baseline", None)

    migrate.downgrade(empty_db, "0001")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT verdict FROM judgments")).scalar_one() == "baseline"
        assert conn.execute(text("SELECT name FROM runs")).scalar_one() == "old"
    assert "rubric" not in {column["name"] for column in inspect(engine).get_columns("runs")}
    engine.dispose()


def test_0004_measures_existing_traces_and_keeps_them_on_the_way_down(empty_db: str) -> None:
    migrate.upgrade(empty_db, "0003")
    engine = create_engine(empty_db)
    with engine.begin() as conn:
        insert_run(conn, 1, **RUBRIC_COLUMNS)
        insert_pair(conn, 1, 1, baseline_trace="short", candidate_trace="longer ✓ trace")
    migrate.upgrade(empty_db)
    with engine.connect() as conn:
        pair = conn.execute(text("SELECT * FROM pairs")).mappings().one()
    # Characters, not bytes: the check mark is one character and three UTF-8 bytes.
    assert (pair["baseline_chars"], pair["candidate_chars"]) == (5, 14)

    migrate.downgrade(empty_db, "0003")
    with engine.connect() as conn:
        traces = conn.execute(text("SELECT baseline_trace, candidate_trace FROM pairs")).one()
    assert tuple(traces) == ("short", "longer ✓ trace")
    assert "baseline_chars" not in {c["name"] for c in inspect(engine).get_columns("pairs")}
    engine.dispose()


def test_0005_puts_existing_runs_in_the_default_project_and_keeps_them_on_the_way_down(
    empty_db: str,
) -> None:
    migrate.upgrade(empty_db, "0004")
    engine = create_engine(empty_db)
    with engine.begin() as conn:
        for run_id in (1, 2):
            insert_run(conn, run_id, **RUBRIC_COLUMNS)
    migrate.upgrade(empty_db)
    with engine.connect() as conn:
        (default_id,) = conn.execute(text("SELECT id FROM projects WHERE name = 'default'")).one()
        owners = conn.execute(text("SELECT id, project_id FROM runs ORDER BY id")).all()
    assert [tuple(row) for row in owners] == [(1, default_id), (2, default_id)]

    migrate.downgrade(empty_db, "0004")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT id, name FROM runs ORDER BY id")).all() == [
            (1, "old"),
            (2, "old"),
        ]
    assert "project_id" not in {c["name"] for c in inspect(engine).get_columns("runs")}
    assert not {"projects", "api_keys"} & set(inspect(engine).get_table_names())
    engine.dispose()


def test_0007_makes_existing_runs_live_and_keeps_batch_runs_judgments_on_the_way_down(
    empty_db: str,
) -> None:
    migrate.upgrade(empty_db, "0005")
    engine = create_engine(empty_db)
    with engine.begin() as conn:
        (project_id,) = conn.execute(text("SELECT id FROM projects")).one()
        insert_run(conn, 1, project_id=project_id, **RUBRIC_COLUMNS)
    migrate.upgrade(empty_db)
    with engine.begin() as conn:
        assert conn.execute(text("SELECT mode FROM runs")).scalar_one() == "live"
        insert_run(conn, 2, project_id=project_id, name="batched", mode="batch", **RUBRIC_COLUMNS)
        insert_pair(conn, 1, 2, baseline_chars=2, candidate_chars=2)
        conn.execute(
            text(
                "INSERT INTO provider_batches (id, run_id, judge, provider, provider_batch_id, "
                "claim_token, status, requests, succeeded, errored, poll_after, created_at) "
                "VALUES (1, 2, 'j', 'openai', 'batch_x', 't', 'ended', 1, 1, 0, "
                "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
        insert_judgment(conn, 1, 2, pair_id=1, label="A", verdict="baseline", batch_id=1)

    migrate.downgrade(empty_db, "0005")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT id FROM runs ORDER BY id")).scalars().all() == [1, 2]
        assert conn.execute(text("SELECT verdict FROM judgments")).scalar_one() == "baseline"
    assert "mode" not in {c["name"] for c in inspect(engine).get_columns("runs")}
    assert "batch_id" not in {c["name"] for c in inspect(engine).get_columns("judgments")}
    assert "provider_batches" not in inspect(engine).get_table_names()
    engine.dispose()


def test_0008_keeps_judgments_and_their_tokens_and_drops_only_its_columns(
    empty_db: str,
) -> None:
    migrate.upgrade(empty_db, "0007")
    engine = create_engine(empty_db)
    with engine.begin() as conn:
        (project_id,) = conn.execute(text("SELECT id FROM projects")).one()
        insert_run(conn, 1, project_id=project_id, mode="live", **RUBRIC_COLUMNS)
        insert_pair(conn, 1, 1, baseline_chars=2, candidate_chars=2)
        insert_judgment(conn, 1, 1, verdict="baseline", input_tokens=900, output_tokens=80)
    added = {"cached_input_tokens", "cost_usd", "cache_key", "cached_from_id"}
    for _ in range(2):  # up, down, up again: the data survives each way
        migrate.upgrade(empty_db)
        with engine.connect() as conn:
            run = conn.execute(text("SELECT cache, budget_usd FROM runs")).one()
            judgment = conn.execute(
                text("SELECT verdict, input_tokens, cost_usd, cache_key FROM judgments")
            ).one()
        assert (bool(run[0]), run[1]) == (True, None)
        # Prices are configuration: no stored cost, readers price the tokens.
        assert tuple(judgment) == ("baseline", 900, None, None)

        migrate.downgrade(empty_db, "0007")
        with engine.connect() as conn:
            kept = conn.execute(text("SELECT verdict, input_tokens FROM judgments")).one()
            assert tuple(kept) == ("baseline", 900)
            assert conn.execute(text("SELECT mode FROM runs")).scalar_one() == "live"
        assert not added & {c["name"] for c in inspect(engine).get_columns("judgments")}
        run_columns = {c["name"] for c in inspect(engine).get_columns("runs")}
        assert not {"cache", "budget_usd"} & run_columns
    engine.dispose()


def test_0009_sets_each_runs_spend_from_its_judgments_and_keeps_them_on_the_way_down(
    empty_db: str,
) -> None:
    migrate.upgrade(empty_db, "0008")
    engine = create_engine(empty_db)
    with engine.begin() as conn:
        (project_id,) = conn.execute(text("SELECT id FROM projects")).one()
        for run_id in (1, 2):
            insert_run(
                conn, run_id, project_id=project_id, mode="live", cache=True, **RUBRIC_COLUMNS
            )
            insert_pair(conn, run_id, run_id, baseline_chars=2, candidate_chars=2)
        # Run 1: two priced judgments and one from before prices were stored; run 2: none.
        for judgment_id, order, cost in ((1, "a", 0.25), (2, "b", 0.5), (3, "c", None)):
            insert_judgment(conn, judgment_id, 1, order=order, cost_usd=cost)
    for _ in range(2):  # up, down, up again: the judgments and their costs survive each way
        migrate.upgrade(empty_db)
        with engine.connect() as conn:
            spent = dict(conn.execute(text("SELECT id, spent_usd FROM runs ORDER BY id")).all())
        assert spent == {1: 0.75, 2: 0.0}

        migrate.downgrade(empty_db, "0008")
        with engine.connect() as conn:
            costs = conn.execute(text("SELECT cost_usd FROM judgments ORDER BY id")).scalars()
            assert list(costs) == [0.25, 0.5, None]
        assert "spent_usd" not in {c["name"] for c in inspect(engine).get_columns("runs")}
    engine.dispose()


def insert_rubric(
    conn: Connection, rubric_id: int, name: str, version: int, **columns: Any
) -> None:
    definition = json.dumps({"name": name, "description": "", "axes": [], "overall": f"v{version}"})
    insert_row(
        conn,
        "rubrics",
        id=rubric_id,
        name=name,
        version=version,
        definition=definition,
        sha256=f"{rubric_id:064d}",
        created_at=CREATED,
        **columns,
    )


def rubric_rows(conn: Connection) -> list[tuple[Any, ...]]:
    return [
        tuple(row)
        for row in conn.execute(text("SELECT id, name, version FROM rubrics ORDER BY id"))
    ]


def test_0010_puts_existing_rubrics_in_the_default_project_and_keeps_them_on_the_way_down(
    empty_db: str,
) -> None:
    migrate.upgrade(empty_db, "0009")
    engine = create_engine(empty_db)
    with engine.begin() as conn:
        insert_rubric(conn, 1, "clarity", 1)
        insert_rubric(conn, 2, "clarity", 2)
        insert_rubric(conn, 3, "brevity", 1)
    before = [(1, "clarity", 1), (2, "clarity", 2), (3, "brevity", 1)]
    migrate.upgrade(empty_db, "0010")
    with engine.begin() as conn:
        (default_id,) = conn.execute(text("SELECT id FROM projects WHERE name = 'default'")).one()
        owners = conn.execute(text("SELECT id, project_id FROM rubrics ORDER BY id")).all()
        assert [tuple(row) for row in owners] == [(1, default_id), (2, default_id), (3, default_id)]
        # Another project's "clarity" is its own rubric, starting at version 1.
        insert_row(conn, "projects", id=default_id + 1, name="other", created_at=CREATED)
        insert_rubric(conn, 4, "clarity", 1, project_id=default_id + 1)
    uniques = {tuple(u["column_names"]) for u in inspect(engine).get_unique_constraints("rubrics")}
    assert ("project_id", "name", "version") in uniques and ("name", "version") not in uniques

    # Down would merge two projects' "clarity" into one history: it refuses and changes nothing.
    with pytest.raises(RuntimeError, match="clarity"):
        migrate.downgrade(empty_db, "0009")
    with engine.begin() as conn:
        assert rubric_rows(conn) == [*before, (4, "clarity", 1)]
        conn.execute(text("DELETE FROM rubrics WHERE id = 4"))

    migrate.downgrade(empty_db, "0009")
    with engine.connect() as conn:
        assert rubric_rows(conn) == before
        overall = conn.execute(text("SELECT definition FROM rubrics WHERE id = 2")).scalar_one()
    assert (overall if isinstance(overall, dict) else json.loads(overall))["overall"] == "v2"
    assert "project_id" not in {c["name"] for c in inspect(engine).get_columns("rubrics")}
    uniques = {tuple(u["column_names"]) for u in inspect(engine).get_unique_constraints("rubrics")}
    assert ("name", "version") in uniques
    engine.dispose()


def test_0011_gives_keys_an_optional_annotator_and_keeps_them_on_the_way_down(
    empty_db: str,
) -> None:
    migrate.upgrade(empty_db, "0010")
    engine = create_engine(empty_db)
    with engine.begin() as conn:
        (project_id,) = conn.execute(text("SELECT id FROM projects")).one()
        insert_row(
            conn,
            "api_keys",
            id=1,
            project_id=project_id,
            prefix="js_old",
            sha256="a" * 64,
            created_at=CREATED,
        )
    for _ in range(2):  # up, down, up again: the key survives each way
        migrate.upgrade(empty_db)
        with engine.connect() as conn:
            key = conn.execute(text("SELECT prefix, annotator FROM api_keys")).one()
        assert tuple(key) == ("js_old", None)

        migrate.downgrade(empty_db, "0010")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT sha256 FROM api_keys")).scalar_one() == "a" * 64
        assert "annotator" not in {c["name"] for c in inspect(engine).get_columns("api_keys")}
    engine.dispose()


def test_0012_makes_old_labels_ad_hoc_and_keeps_them_on_the_way_down(empty_db: str) -> None:
    migrate.upgrade(empty_db, "0011")
    engine = create_engine(empty_db)
    with engine.begin() as conn:
        (project_id,) = conn.execute(text("SELECT id FROM projects")).one()
        insert_run(conn, 1, project_id=project_id, **RUBRIC_COLUMNS)
        insert_pair(conn, 1, 1, baseline_chars=2, candidate_chars=2)
        insert_row(
            conn,
            "human_labels",
            id=1,
            run_id=1,
            pair_id=1,
            annotator="dr-a",
            label="candidate",
            created_at=CREATED,
        )
    for _ in range(2):  # up, down, up again: the label survives each way
        migrate.upgrade(empty_db, "0012")
        with engine.begin() as conn:
            label = conn.execute(text("SELECT annotator, label, source FROM human_labels")).one()
            assert tuple(label) == ("dr-a", "candidate", "ad_hoc")
            insert_row(
                conn,
                "label_draws",
                run_id=1,
                pair_id=1,
                annotator="dr-a",
                strategy="active",
                probability=1.0,
                population=1,
                created_at=CREATED,
            )
        migrate.downgrade(empty_db, "0011")
        with engine.connect() as conn:
            label = conn.execute(text("SELECT annotator, label FROM human_labels")).one()
            assert tuple(label) == ("dr-a", "candidate")
        assert "label_draws" not in inspect(engine).get_table_names()
        assert "source" not in {c["name"] for c in inspect(engine).get_columns("human_labels")}
    engine.dispose()
