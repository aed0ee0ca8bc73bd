"""`insert_pairs`: new pairs and exactly their judgment rows, on PostgreSQL and on SQLite."""

import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from judge_service.db import migrate
from judge_service.db.engine import session_factory
from judge_service.db.models import Judgment, JudgmentStatus, Pair, Run
from judge_service.db.projects import default_project
from judge_service.db.queries import insert_pairs
from judge_service.demo.sample import sample_pairs

# Past SQLAlchemy's 1,000 rows per multi-row INSERT: several statements per submission.
OVERLAPPING = 2500


@pytest.fixture(params=["postgresql", "sqlite"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        url = request.getfixturevalue("make_pg_database")()
    else:
        url = f"sqlite:///{tmp_path / 'insert.db'}"
    migrate.upgrade(url)
    return url


def rows(count: int, offset: int = 0) -> list[dict[str, object]]:
    return [
        {
            "external_id": pair["external_id"],
            "question": pair["question"],
            "reference_answer": pair.get("reference_answer"),
            "image_urls": pair.get("image_urls", []),
            "meta": pair.get("metadata", {}),
            "baseline_trace": pair["baseline_trace"],
            "candidate_trace": pair["candidate_trace"],
        }
        for pair in sample_pairs(offset + count)[offset:]
    ]


@pytest.mark.parametrize(("swap", "orders"), [(True, 2), (False, 1)])
def test_each_new_pair_gets_one_pending_row_per_judge_and_order(
    database_url: str, swap: bool, orders: int
) -> None:
    sessions = session_factory(database_url)
    with sessions() as session:
        project = default_project(session)
        judges = ["judge-a", "judge-b", "judge-c"]
        run = Run(
            project_id=project.id, name="t", baseline="b", candidate="c", judges=judges, swap=swap
        )
        session.add(run)
        session.commit()
        first = insert_pairs(session, run, rows(30))
        # Ten already stored, five new: only the new ones come back, with their rows.
        again = insert_pairs(session, run, rows(15, offset=20))
        session.commit()

        # By external id, in id order, which is the order submitted.
        assert list(first) == [r["external_id"] for r in rows(30)]
        assert list(first.values()) == sorted(first.values())
        assert list(again) == [r["external_id"] for r in rows(5, offset=30)]
        assert not set(again.values()) & set(first.values())
        stored = session.execute(
            select(Judgment.pair_id, Judgment.judge, Judgment.order, Judgment.status)
        ).all()
        per_pair = Counter(pair_id for pair_id, *_ in stored)
        assert set(per_pair) == set(first.values()) | set(again.values())
        assert set(per_pair.values()) == {3 * orders}
        assert {status for *_, status in stored} == {JudgmentStatus.PENDING}
        slots = {(judge, order) for _, judge, order, _ in stored}
        expected_orders = {"baseline_first", "candidate_first"} if swap else {"baseline_first"}
        assert slots == {(j, o) for j in run.judges for o in expected_orders}
        made = session.scalars(select(Judgment)).all()
        assert all(j.attempts == 0 and j.created_at is not None for j in made)
        assert all(j.run_id == run.id for j in made)
        lengths = session.execute(
            select(Pair.external_id, Pair.baseline_chars, Pair.candidate_chars)
        ).all()
        by_id = {r["external_id"]: r for r in rows(35)}
        stored_ids = {e: i for e, i in session.execute(select(Pair.external_id, Pair.id))}
        assert stored_ids == first | again
        for external_id, baseline_chars, candidate_chars in lengths:
            assert baseline_chars == len(str(by_id[external_id]["baseline_trace"]))
            assert candidate_chars == len(str(by_id[external_id]["candidate_trace"]))


def test_overlapping_submissions_in_opposite_orders_do_not_deadlock(
    make_pg_database: Callable[[], str],
) -> None:
    """Two submissions sharing ids, in opposite orders, at the same time: both succeed."""
    url = make_pg_database()
    migrate.upgrade(url)
    sessions = session_factory(url)
    with sessions() as session:
        run = Run(
            project_id=default_project(session).id,
            name="overlap",
            baseline="b",
            candidate="c",
            judges=["sim"],
        )
        session.add(run)
        session.commit()
        run_id = run.id
    pairs = rows(OVERLAPPING)
    submissions = {"ascending": pairs, "descending": pairs[::-1]}
    start = threading.Barrier(len(submissions))
    outcome: dict[str, dict[str, int] | Exception] = {}

    def submit(name: str) -> None:
        with sessions() as session:
            own_run = session.get(Run, run_id)
            assert own_run is not None
            start.wait()
            try:
                outcome[name] = insert_pairs(session, own_run, submissions[name])
                session.commit()
            except Exception as exc:  # a deadlock, when the rows went in as submitted
                outcome[name] = exc

    threads = [threading.Thread(target=submit, args=(name,)) for name in submissions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not {name: repr(o) for name, o in outcome.items() if isinstance(o, Exception)}
    new_ids = {name: list(new.values()) for name, new in outcome.items() if isinstance(new, dict)}
    assert sum(len(ids) for ids in new_ids.values()) == OVERLAPPING

    with sessions() as session:
        stored = dict(
            session.execute(select(Pair.id, Pair.external_id).where(Pair.run_id == run_id)).all()
        )
        per_pair = Counter(session.scalars(select(Judgment.pair_id)))
    assert sorted(stored.values()) == sorted(p["external_id"] for p in pairs)
    assert per_pair == dict.fromkeys(stored, 2)
    # Ids follow each submission's own order, not the order the rows were inserted in.
    for name, ids in new_ids.items():
        in_id_order = [stored[pair_id] for pair_id in sorted(ids)]
        mine = set(in_id_order)
        assert in_id_order == [
            p["external_id"] for p in submissions[name] if p["external_id"] in mine
        ], name
