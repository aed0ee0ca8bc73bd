"""The reconciler queues stale work once, however many reconcilers run at the same time."""

import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from judge_service.app import create_app
from judge_service.background import BackgroundServer
from judge_service.config import Settings
from judge_service.db import migrate
from judge_service.db.engine import session_factory
from judge_service.db.models import Judgment, JudgmentStatus, utcnow
from judge_service.demo.sample import sample_pairs
from judge_service.jobs.claims import Result, claim, release, store_many
from judge_service.jobs.dispatch import RQDispatcher
from judge_service.jobs.judge_pairs import judge_chunk
from judge_service.jobs.reconcile import reconcile
from tests.conftest import create_run, simulator_stats
from tests.jobs.test_claims import make_pairs

LEASE_S = 60


@pytest.fixture
def settings(pg_settings: Settings, make_pg_database: Callable[[], str]) -> Settings:
    """A database and an RQ queue of this test's own: the reconciler looks at every run."""
    url = make_pg_database()
    migrate.upgrade(url)
    return pg_settings.model_copy(
        update={"database_url": url, "queue_name": f"reconcile-{uuid.uuid4().hex[:8]}"}
    )


@pytest.fixture
def sessions(settings: Settings) -> sessionmaker[Session]:
    return session_factory(settings.database_url)


@pytest.fixture
def dispatcher(settings: Settings) -> Iterator[RQDispatcher]:
    dispatcher = RQDispatcher(settings)
    yield dispatcher
    dispatcher.queue.empty()
    dispatcher.close()


def queued_pairs(dispatcher: RQDispatcher) -> Counter[int]:
    """Each pair id in the queue's jobs, with how many jobs carry it."""
    return Counter(pair_id for job in dispatcher.queue.jobs for pair_id in job.args[0])


def age(sessions: sessionmaker[Session], pair_ids: list[int], seconds: int) -> None:
    with sessions.begin() as session:
        session.execute(
            update(Judgment)
            .where(Judgment.pair_id.in_(pair_ids))
            .values(created_at=utcnow() - timedelta(seconds=seconds))
        )


def test_concurrent_reconcilers_queue_each_stale_pair_once(
    sessions: sessionmaker[Session], dispatcher: RQDispatcher
) -> None:
    ids = make_pairs(sessions, 30, ["sim"])
    age(sessions, ids, LEASE_S + 1)  # their jobs were lost a lease ago
    start = threading.Barrier(4)
    counts: list[int] = []

    def one() -> None:
        start.wait()
        counts.append(reconcile(sessions, dispatcher, LEASE_S))

    threads = [threading.Thread(target=one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(counts) == 4 and sum(counts) == 30
    assert queued_pairs(dispatcher) == Counter({pair_id: 1 for pair_id in ids})
    # Queued under a fresh lease: the next periodic pass leaves them to that job.
    assert reconcile(sessions, dispatcher, LEASE_S) == 0


def test_what_is_stale(sessions: sessionmaker[Session], dispatcher: RQDispatcher) -> None:
    fresh, queued_long_ago, live, dead, released = (
        make_pairs(sessions, 1, ["sim"]) for _ in "12345"
    )
    age(sessions, queued_long_ago + live + dead + released, LEASE_S + 1)
    claim(sessions, live, "live", LEASE_S, judges={})
    dead_items = claim(sessions, dead, "dead", LEASE_S, judges={})
    with sessions.begin() as session:
        session.execute(
            update(Judgment)
            .where(Judgment.pair_id.in_(dead))
            .values(lease_expires_at=utcnow() - timedelta(seconds=1))
        )
    claim(sessions, released, "stopping", LEASE_S, judges={})
    release(sessions, "stopping")

    assert reconcile(sessions, dispatcher, LEASE_S) == 3
    assert set(queued_pairs(dispatcher)) == set(queued_long_ago + dead + released)
    assert fresh[0] not in queued_pairs(dispatcher)  # its job may still be in the queue
    # The dead worker's claim is void: a late write from it changes nothing.
    late = Result(JudgmentStatus.FAILED, error="late")
    assert store_many(sessions, "dead", [(dead_items[0], late)]) == [False]
    # The CLI's `everything` also takes the fresh row, never the live claim.
    assert reconcile(sessions, dispatcher, LEASE_S, everything=True) == 4
    with sessions() as session:
        held = session.scalars(select(Judgment.claim_token).where(Judgment.pair_id.in_(live)))
        assert set(held) == {"live"}


def test_a_lost_claim_reply_is_claimed_again_by_its_own_token(
    sessions: sessionmaker[Session],
) -> None:
    ids = make_pairs(sessions, 2, ["sim"])
    first = claim(sessions, ids, "token-again", LEASE_S, judges={})
    assert len(claim(sessions, ids, "token-again", LEASE_S, judges={})) == len(first) == 4
    assert claim(sessions, ids, "someone-else", LEASE_S, judges={}) == []


def test_a_stopped_chunk_calls_nothing_and_releases_its_claims(
    sessions: sessionmaker[Session], settings: Settings, simulator: BackgroundServer
) -> None:
    ids = make_pairs(sessions, 3, ["sim"])
    before = simulator_stats(simulator)["requests"]
    stop = threading.Event()
    stop.set()
    summary = judge_chunk(settings, ids, stop)
    assert (summary.claimed, summary.done, summary.released) == (6, 0, 6)
    assert simulator_stats(simulator)["requests"] == before
    with sessions() as session:
        rows = session.execute(
            select(Judgment.status, Judgment.claim_token).where(Judgment.pair_id.in_(ids))
        ).all()
    assert set(rows) == {(JudgmentStatus.PENDING, None)}


def test_retried_failures_are_left_to_the_job_that_retries_them(
    settings: Settings, sessions: sessionmaker[Session], dispatcher: RQDispatcher
) -> None:
    """POST /retry-failed queues the pairs and leases the rows, so no reconcile queues them too."""
    with (
        BackgroundServer(create_app(settings)) as server,
        httpx.Client(base_url=server.url, timeout=30) as api,
    ):
        run = create_run(api, ["sim"])
        assert api.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": sample_pairs(3)})
        dispatcher.queue.empty()
        with sessions.begin() as session:
            session.execute(
                update(Judgment)
                .where(Judgment.run_id == run["id"])
                .values(status=JudgmentStatus.FAILED, error_kind="timeout")
            )
        pair_ids = list(sessions().scalars(select(Judgment.pair_id).distinct()))
        age(sessions, pair_ids, 2 * settings.lease_s)  # failures from long ago
        retried = api.post(f"/v1/runs/{run['id']}/retry-failed").json()
        assert retried == {"requeued": 6, "pairs": 3, "jobs": 1}
    assert queued_pairs(dispatcher) == Counter(dict.fromkeys(pair_ids, 1))
    assert reconcile(sessions, dispatcher, settings.lease_s) == 0
    assert queued_pairs(dispatcher) == Counter(dict.fromkeys(pair_ids, 1))
