"""Pair posts that arrive together are written in one transaction and queued together; each
is answered for itself, and one the database refuses fails alone (`api/pair_writer.py`)."""

import asyncio
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from fastapi import HTTPException
from sqlalchemy import Engine, create_engine, delete, text

from judge_service.api.ingest_runs import IngestRuns
from judge_service.api.pair_writer import PairWriter
from judge_service.api.schemas import PairIn, PairsAccepted
from judge_service.config import Settings
from judge_service.db.engine import dispose_engine, session_factory
from judge_service.db.models import Project, Run
from judge_service.db.projects import default_project
from judge_service.jobs.dispatch import RQDispatcher
from tests.api.row_lock import held_run


@dataclass
class Parts:
    settings: Settings
    engine: Engine
    dispatcher: RQDispatcher
    project: Project

    def writer(self, group_pairs: int = 10_000, writers: int = 1) -> PairWriter:
        """Posts waiting together go in one group, as many as `group_pairs` allow."""
        sessions = session_factory(self.settings.database_url)
        return PairWriter(sessions, IngestRuns(), self.dispatcher, writers, group_pairs)

    def new_run(self) -> int:
        with session_factory(self.settings.database_url).begin() as session:
            run = Run(
                project_id=self.project.id, name="w", baseline="b", candidate="c", judges=["sim"]
            )
            session.add(run)
            session.flush()
            return run.id

    def transactions(self) -> dict[str, str]:
        """Each stored pair's external id -> the transaction that inserted it."""
        with self.engine.connect() as db:
            rows = db.execute(text("SELECT external_id, xmin::text FROM pairs")).all()
        return {external_id: xmin for external_id, xmin in rows}

    def queued_pair_ids(self) -> list[int]:
        jobs = self.dispatcher.queue.get_jobs()
        return sorted(pair_id for job in jobs for pair_id in job.args[0])


@pytest.fixture
def parts(pg_settings: Settings, make_migrated_database: Callable[[], str]) -> Iterator[Parts]:
    settings = pg_settings.model_copy(
        update={
            "database_url": make_migrated_database(),
            "queue_name": f"writer-{uuid.uuid4().hex[:8]}",
        }
    )
    engine = create_engine(settings.database_url)
    dispatcher = RQDispatcher(settings)
    with session_factory(settings.database_url)() as session:
        project = default_project(session)
    try:
        yield Parts(settings, engine, dispatcher, project)
    finally:
        dispatcher.queue.empty()
        dispatcher.close()
        engine.dispose()
        dispose_engine(settings.database_url)


def pairs(*external_ids: str) -> list[PairIn]:
    return [
        PairIn(external_id=e, question=f"q {e}", baseline_trace="b", candidate_trace="c")
        for e in external_ids
    ]


def post_all(
    writer: PairWriter, posts: list[tuple[int, list[PairIn]]], project: Project
) -> list[PairsAccepted | BaseException]:
    """The posts in this order, all arrived before the first write starts."""

    async def run() -> list[PairsAccepted | BaseException]:
        return await asyncio.gather(
            *(writer.add(run_id, body, project) for run_id, body in posts),
            return_exceptions=True,
        )

    return asyncio.run(run())


def test_posts_waiting_together_share_one_transaction_and_each_gets_its_own_answer(
    parts: Parts,
) -> None:
    run_id = parts.new_run()
    # "c" comes twice: the first post to send it has it, the later one counts a duplicate,
    # as had they come one after the other; "e" twice in one post is one pair.
    posts = [
        (run_id, pairs("a", "b")),
        (run_id, pairs("c")),
        (run_id, pairs("c", "d", "e", "e")),
        (run_id, pairs("b")),  # nothing new: nothing queued for it
    ]
    answers = post_all(parts.writer(), posts, parts.project)

    assert answers == [
        PairsAccepted(accepted=2, duplicates=0, jobs=1),
        PairsAccepted(accepted=1, duplicates=0, jobs=1),
        PairsAccepted(accepted=2, duplicates=2, jobs=1),
        PairsAccepted(accepted=0, duplicates=1, jobs=0),
    ]
    stored = parts.transactions()
    assert sorted(stored) == ["a", "b", "c", "d", "e"]
    assert len(set(stored.values())) == 1
    # One enqueue for the group: one job with every new pair.
    assert len(parts.dispatcher.queue.get_jobs()) == 1
    with parts.engine.connect() as db:
        ids = db.execute(text("SELECT external_id, id FROM pairs ORDER BY id")).all()
    # Ids drawn in the order the posts came, each post's pairs in its own order.
    assert [external_id for external_id, _ in ids] == ["a", "b", "c", "d", "e"]
    assert parts.queued_pair_ids() == [pair_id for _, pair_id in ids]


def test_a_group_holds_at_most_group_pairs(parts: Parts) -> None:
    run_id = parts.new_run()
    posts = [(run_id, pairs(f"{n}-1", f"{n}-2")) for n in range(4)]
    answers = post_all(parts.writer(group_pairs=4), posts, parts.project)

    assert [answer.accepted for answer in answers if isinstance(answer, PairsAccepted)] == [2] * 4
    stored = parts.transactions()
    groups = [{stored[f"{n}-1"], stored[f"{n}-2"]} for n in range(4)]
    assert all(len(group) == 1 for group in groups)
    # Two posts of two pairs a group: posts 0 and 1 together, then 2 and 3.
    assert groups[0] == groups[1] != groups[2] == groups[3]


def test_a_post_the_database_refuses_fails_alone(parts: Parts) -> None:
    kept, deleted = parts.new_run(), parts.new_run()
    writer = parts.writer()
    # The writer keeps both runs; one is then deleted behind its back.
    post_all(writer, [(kept, pairs("k0")), (deleted, pairs("d0"))], parts.project)
    with session_factory(parts.settings.database_url).begin() as session:
        session.execute(delete(Run).where(Run.id == deleted))
    missing = deleted + 1000

    answers = post_all(
        writer,
        [
            (kept, pairs("k1")),
            (deleted, pairs("d1")),  # its foreign key refuses it: the group is written again
            (missing, pairs("m1")),  # never a run: refused at its lookup
            (kept, pairs("k2", "k1")),
        ],
        parts.project,
    )

    assert answers[0] == PairsAccepted(accepted=1, duplicates=0, jobs=1)
    assert answers[3] == PairsAccepted(accepted=1, duplicates=1, jobs=1)
    for refused, run_id in ((answers[1], deleted), (answers[2], missing)):
        assert isinstance(refused, HTTPException)
        assert (refused.status_code, refused.detail) == (404, f"run {run_id} not found")
    assert sorted(parts.transactions()) == ["k0", "k1", "k2"]


def test_two_groups_over_the_same_runs_in_opposite_orders_both_land(parts: Parts) -> None:
    """Each group inserts run by run in id order, so two never wait for each other in a cycle.

    In arrival order the first group would insert into run a, then b, and the second into b,
    then a: let go at once, each would hold the pair the other needs next, and PostgreSQL
    would end one group as a deadlock.
    """
    run_a, run_b = parts.new_run(), parts.new_run()
    writer = parts.writer(group_pairs=2, writers=2)
    # One pair a post, two posts a group: [a:x, b:y] and [b:y, a:x], written at once.
    posts = [(run_a, pairs("x")), (run_b, pairs("y")), (run_b, pairs("y")), (run_a, pairs("x"))]
    answers: list[PairsAccepted | BaseException] = []
    with held_run(parts.engine, run_a, run_b) as held:
        posting = threading.Thread(
            target=lambda: answers.extend(post_all(writer, posts, parts.project))
        )
        posting.start()
        held.wait_for(2)  # both groups at their first insert
    posting.join(30)

    assert all(isinstance(answer, PairsAccepted) for answer in answers), answers
    accepted = [answer.accepted for answer in answers if isinstance(answer, PairsAccepted)]
    assert sorted(accepted) == [0, 0, 1, 1]
    assert sorted(parts.transactions()) == ["x", "y"]
