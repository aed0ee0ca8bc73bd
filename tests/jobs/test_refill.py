"""A job whose calls have all gone out claims more of its runs' work while its replies come
in, without ever taking a judgment another job holds."""

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from judge_service.background import BackgroundServer
from judge_service.config import Settings
from judge_service.db.engine import session_factory
from judge_service.db.models import Judgment, Pair, Run
from judge_service.jobs.backlog import Backlog
from judge_service.jobs.claims import claim_more
from judge_service.jobs.judge_pairs import judge_chunk
from judge_service.simulate.config import SimulatorConfig
from judge_service.simulate.server import create_app
from tests.conftest import simulated_judges, simulator_stats
from tests.jobs.test_claims import make_pairs, statuses

LATENCY_S = 2.0


@pytest.fixture(scope="module")
def slow() -> Iterator[BackgroundServer]:
    """Replies two seconds after each request: far longer than a refill takes to claim."""
    config = SimulatorConfig(latency_mean_s=LATENCY_S, latency_jitter_s=0.0, seed=3)
    with BackgroundServer(create_app(config)) as server:
        yield server


@pytest.fixture(scope="module")
def trickling() -> Iterator[BackgroundServer]:
    config = SimulatorConfig(latency_mean_s=0.05, latency_jitter_s=0.04, seed=8)
    with BackgroundServer(create_app(config)) as server:
        yield server


@pytest.fixture
def sessions(pg_url: str) -> sessionmaker[Session]:
    return session_factory(pg_url)


def settings_for(
    pg_url: str, provider: BackgroundServer, job_timeout_s: int = 900, timeout_s: float = 60
) -> Settings:
    judge = {
        **simulated_judges(provider.url)["sim"],
        "max_concurrency": 64,
        "timeout_s": timeout_s,
    }
    return Settings(
        database_url=pg_url, judges={"sim": judge}, chunk_size=2, job_timeout_s=job_timeout_s
    )


def attempts(sessions: sessionmaker[Session], pair_ids: list[int]) -> list[int]:
    with sessions() as session:
        return list(
            session.scalars(select(Judgment.attempts).where(Judgment.pair_id.in_(pair_ids)))
        )


def test_the_rest_of_the_run_is_sent_before_the_first_reply_comes_back(
    pg_url: str, sessions: sessionmaker[Session], slow: BackgroundServer
) -> None:
    ids = make_pairs(sessions, 6, ["sim"])
    other_run = make_pairs(sessions, 2, ["sim"])
    before = simulator_stats(slow)["requests"]

    summary = judge_chunk(settings_for(pg_url, slow), ids[:2])

    # The chunk named 2 pairs; the job judged all 6 of its run and none of another run's.
    assert (summary.claimed, summary.done) == (12, 12)
    assert set(statuses(sessions, ids)) == {"done"}
    assert set(statuses(sessions, other_run)) == {"pending"}
    stats = simulator_stats(slow)
    assert stats["requests"] - before == 12
    # The refill claimed as soon as the chunk's 4 calls had gone out, not when they came back:
    # every call went out within one reply's latency of the first.
    assert stats["last_request_at"] - stats["first_request_at"] < LATENCY_S


def test_two_jobs_refilling_from_one_run_judge_each_judgment_once(
    pg_url: str, sessions: sessionmaker[Session], trickling: BackgroundServer
) -> None:
    ids = make_pairs(sessions, 40, ["sim"])
    settings = settings_for(pg_url, trickling)
    before = simulator_stats(trickling)["requests"]
    jobs = [
        threading.Thread(target=judge_chunk, args=(settings, chunk))
        for chunk in (ids[:2], ids[2:4])
    ]
    for job in jobs:
        job.start()
    for job in jobs:
        job.join(timeout=120)

    assert set(statuses(sessions, ids)) == {"done"}
    assert set(attempts(sessions, ids)) == {1}
    assert simulator_stats(trickling)["requests"] - before == 80


def test_no_refill_once_a_call_could_outlast_half_the_job_timeout(
    pg_url: str, sessions: sessionmaker[Session], trickling: BackgroundServer
) -> None:
    ids = make_pairs(sessions, 4, ["sim"])
    # A call may take 6 s (one attempt, no retry), more than half of a 10 s job timeout.
    settings = settings_for(pg_url, trickling, job_timeout_s=10, timeout_s=6)

    summary = judge_chunk(settings, ids[:2])

    assert (summary.claimed, summary.done) == (4, 4)
    assert sorted(statuses(sessions, ids)) == ["done"] * 4 + ["pending"] * 4


def test_a_run_with_a_budget_is_judged_chunk_by_chunk(
    pg_url: str, sessions: sessionmaker[Session], trickling: BackgroundServer
) -> None:
    ids = make_pairs(sessions, 4, ["sim"])
    with sessions.begin() as session:
        run_id = session.scalars(select(Pair.run_id).where(Pair.id == ids[0])).one()
        session.execute(update(Run).where(Run.id == run_id).values(budget_usd=1000.0))

    summary = judge_chunk(settings_for(pg_url, trickling), ids[:2])

    # Its spend is stored with each chunk's results, before anything more is claimed.
    assert (summary.claimed, summary.done) == (4, 4)
    assert sorted(statuses(sessions, ids)) == ["done"] * 4 + ["pending"] * 4


def test_a_job_asked_to_stop_claims_no_more(
    pg_url: str, sessions: sessionmaker[Session], trickling: BackgroundServer
) -> None:
    ids = make_pairs(sessions, 4, ["sim"])
    stop = threading.Event()
    stop.set()

    summary = judge_chunk(settings_for(pg_url, trickling), ids[:2], stop)

    assert (summary.claimed, summary.released) == (4, 4)
    assert set(attempts(sessions, ids[2:])) == {0}


def test_claim_more_takes_the_oldest_free_rows_and_skips_locked_ones(
    pg_url: str, sessions: sessionmaker[Session]
) -> None:
    ids = make_pairs(sessions, 4, ["sim"])
    other_run = make_pairs(sessions, 1, ["sim"])
    with sessions() as session:
        run_id = session.scalars(
            select(Judgment.run_id).where(Judgment.pair_id == ids[0]).distinct()
        ).one()
    locker = sessions()
    try:
        # Another claim in the middle of its transaction holds the run's first pair.
        locker.execute(
            select(Judgment.id).where(Judgment.pair_id == ids[0]).with_for_update()
        ).all()
        got: list[list[int]] = []
        claimer = threading.Thread(
            target=lambda: got.append(
                [
                    item.judgment_id
                    for item in claim_more(sessions, [run_id], "token-m", 600, {}, limit=3)
                ]
            )
        )
        claimer.start()
        claimer.join(timeout=30)
        assert not claimer.is_alive(), "claim_more waited for a locked row"
    finally:
        locker.rollback()
        locker.close()
    with sessions() as session:
        first_free = session.scalars(
            select(Judgment.id).where(Judgment.pair_id.in_(ids[1:])).order_by(Judgment.id)
        ).all()
    assert got == [first_free[:3]]
    assert set(statuses(sessions, other_run)) == {"pending"}
    # What one claim holds, the next does not take again.
    with sessions() as session:
        everything = set(session.scalars(select(Judgment.id).where(Judgment.run_id == run_id)))
    again = claim_more(sessions, [run_id], "token-n", 600, {}, limit=10)
    assert {item.judgment_id for item in again} == everything - set(got[0])


def test_the_backlog_empties_once_every_call_has_left_it_once() -> None:
    emptied: list[int] = []
    backlog = Backlog(lambda: emptied.append(backlog.count))
    first, second = backlog.join(), backlog.join()
    first()
    first()  # a retry's turn in the budget: the call had already left
    assert (backlog.count, emptied) == (1, [])
    second()
    assert (backlog.count, emptied) == (0, [0])
