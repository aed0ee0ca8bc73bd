"""A live job keeps its claims however slow a call is; a dead one's lapse a short lease later."""

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from judge_service.background import BackgroundServer
from judge_service.config import Settings
from judge_service.db import migrate
from judge_service.db.engine import session_factory
from judge_service.db.models import Judgment, JudgmentStatus, utcnow
from judge_service.jobs.claims import Result, claim, claim_more, renew, store_many
from judge_service.jobs.dispatch import RQDispatcher
from judge_service.jobs.heartbeat import Heartbeat
from judge_service.jobs.judge_pairs import ChunkSummary, judge_chunk
from judge_service.jobs.reconcile import reconcile
from judge_service.simulate.config import SimulatorConfig
from judge_service.simulate.server import create_app
from tests.conftest import simulated_judges, simulator_stats
from tests.jobs.test_claims import make_pairs, statuses

CALL_S = 3.0  # each judge call: three leases long
LEASE_S = 1.0
BEAT_S = 0.25


@pytest.fixture
def settings(pg_settings: Settings, make_pg_database: Callable[[], str]) -> Settings:
    """A database and a queue of this test's own: the reconciler looks at every run."""
    url = make_pg_database()
    migrate.upgrade(url)
    return pg_settings.model_copy(
        update={"database_url": url, "queue_name": f"heartbeat-{uuid.uuid4().hex[:8]}"}
    )


@pytest.fixture
def sessions(settings: Settings) -> sessionmaker[Session]:
    return session_factory(settings.database_url)


@pytest.fixture
def slow() -> Iterator[BackgroundServer]:
    config = SimulatorConfig(latency_mean_s=CALL_S, latency_jitter_s=0.0, seed=4)
    with BackgroundServer(create_app(config)) as server:
        yield server


def leases(sessions: sessionmaker[Session], pair_ids: list[int]) -> list[datetime | None]:
    with sessions() as session:
        return list(
            session.scalars(
                select(Judgment.lease_expires_at).where(
                    Judgment.pair_id.in_(pair_ids), Judgment.status == JudgmentStatus.RUNNING
                )
            )
        )


def test_a_call_slower_than_the_lease_keeps_its_claims(
    settings: Settings, sessions: sessionmaker[Session], slow: BackgroundServer
) -> None:
    judge = {**simulated_judges(slow.url)["sim"], "timeout_s": 30.0}
    settings = Settings(
        database_url=settings.database_url,
        redis_url=settings.redis_url,
        queue_name=settings.queue_name,
        judges={"sim": judge},
        claim_lease_s=LEASE_S,
        heartbeat_s=BEAT_S,
    )
    ids = make_pairs(sessions, 2, ["sim"])
    with sessions() as session:
        run_id = session.scalar(select(Judgment.run_id).where(Judgment.pair_id == ids[0]))
    assert run_id is not None
    dispatcher = RQDispatcher(settings)
    summary: list[ChunkSummary] = []
    job = threading.Thread(target=lambda: summary.append(judge_chunk(settings, ids)))
    started = utcnow()
    job.start()
    while set(statuses(sessions, ids)) != {"running"}:
        time.sleep(0.02)
    seen_past_the_first_lease = False
    try:
        while job.is_alive():
            # Another worker, and the reconciler, try all the while: the rows stay the job's.
            assert claim(sessions, ids, "rival", LEASE_S, judges={}) == []
            assert claim_more(sessions, [run_id], "rival", LEASE_S, judges={}, limit=10) == []
            assert reconcile(sessions, dispatcher, settings.lease_s, run_id) == 0
            now = utcnow()
            held = leases(sessions, ids)
            assert all(lease is not None and lease > now for lease in held)
            if held and now > started + timedelta(seconds=2 * LEASE_S):
                seen_past_the_first_lease = True
            time.sleep(0.1)
    finally:
        job.join(timeout=60)
        dispatcher.queue.empty()
        dispatcher.close()

    assert seen_past_the_first_lease  # the calls outlived their claim's first lease
    assert summary == [ChunkSummary(claimed=4, done=4, failed=0, lost=0)]
    assert set(statuses(sessions, ids)) == {"done"}
    with sessions() as session:
        attempts = session.scalars(select(Judgment.attempts).where(Judgment.pair_id.in_(ids)))
        assert set(attempts) == {1}
    assert simulator_stats(slow)["requests"] == 4


def test_renewal_extends_only_rows_still_running_under_the_claim(
    sessions: sessionmaker[Session],
) -> None:
    ids = make_pairs(sessions, 2, ["sim"])
    ours, stored, taken, _ = claim(sessions, ids, "ours", lease_s=5, judges={})
    store_many(sessions, "ours", [(stored, Result(JudgmentStatus.FAILED, error="x"))])
    with sessions.begin() as session:
        session.execute(
            update(Judgment).where(Judgment.id == taken.judgment_id).values(claim_token="other")
        )
    before = utcnow()

    ids_held = [ours.judgment_id, stored.judgment_id, taken.judgment_id]
    assert renew(sessions, "ours", ids_held, lease_s=600) == 1

    with sessions() as session:
        rows = session.execute(
            select(Judgment.id, Judgment.lease_expires_at).where(Judgment.id.in_(ids_held))
        )
        lease = {judgment_id: expires for judgment_id, expires in rows}
    assert lease[ours.judgment_id] is not None
    assert lease[ours.judgment_id] >= before + timedelta(seconds=599)
    assert lease[stored.judgment_id] is None
    taken_lease = lease[taken.judgment_id]
    assert taken_lease is not None and taken_lease < before + timedelta(seconds=6)


def test_renewal_stops_once_the_job_has_run_for_its_timeout(
    sessions: sessionmaker[Session],
) -> None:
    # Built without validation: a job timeout of one second is below what settings allow.
    settings = Settings.model_construct(claim_lease_s=1.0, heartbeat_s=0.2, job_timeout_s=1)
    ids = make_pairs(sessions, 1, ["sim"])
    items = claim(sessions, ids, "stuck", lease_s=1.0, judges={})
    with Heartbeat(settings, sessions, "stuck") as heartbeat:
        heartbeat.hold(items)
        time.sleep(1.5)
        # Past the first lease, renewed while the job was within its timeout.
        assert claim(sessions, ids, "rival", lease_s=60, judges={}) == []
        time.sleep(1.5)
        # No beat since the timeout: the lease ran out, another worker may take the rows.
        assert len(claim(sessions, ids, "rival", lease_s=60, judges={})) == 2


def test_a_lease_must_outlast_two_beats() -> None:
    with pytest.raises(ValidationError, match="heartbeat_s"):
        Settings(claim_lease_s=10, heartbeat_s=6)
    assert Settings().claim_lease_s >= 2 * Settings().heartbeat_s
