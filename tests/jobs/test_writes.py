"""A job's writes: results that finish apart share one, and each keeps its judge's slot
until it is stored, so a killed worker leaves at most one call per slot to make again."""

import time
from collections.abc import Iterator, Sequence

import pytest
from sqlalchemy.orm import Session, sessionmaker

from judge_service.background import BackgroundServer
from judge_service.config import Settings
from judge_service.db.engine import session_factory
from judge_service.jobs import judge_pairs
from judge_service.jobs.claims import Result, WorkItem, store_many
from judge_service.simulate.config import SimulatorConfig
from judge_service.simulate.server import create_app
from tests.conftest import simulated_judges, simulator_stats
from tests.jobs.test_claims import make_pairs, statuses


@pytest.fixture
def trickling() -> Iterator[BackgroundServer]:
    """Replies 20 to 180 ms after the request, so a chunk's results finish apart."""
    config = SimulatorConfig(latency_mean_s=0.1, latency_jitter_s=0.08, seed=5)
    with BackgroundServer(create_app(config)) as server:
        yield server


def settings_for(pg_url: str, provider: BackgroundServer, concurrency: int) -> Settings:
    judge = {**simulated_judges(provider.url)["sim"], "max_concurrency": concurrency}
    return Settings(database_url=pg_url, judges={"sim": judge})


class Writes:
    """Watches the job's writes: each group's size, and what was called but not yet stored."""

    def __init__(self, provider: BackgroundServer) -> None:
        self.provider = provider
        self.groups: list[int] = []
        self.unstored: list[int] = []

    def store_many(
        self,
        sessions: sessionmaker[Session],
        token: str,
        results: Sequence[tuple[WorkItem, Result]],
    ) -> list[bool]:
        # Time for any call started while the group waited to reach the provider.
        time.sleep(0.2)
        called = simulator_stats(self.provider)["requests"]
        self.unstored.append(called - sum(self.groups))
        self.groups.append(len(results))
        return store_many(sessions, token, results)


def test_results_that_finish_apart_share_a_write(
    pg_url: str, trickling: BackgroundServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    sessions = session_factory(pg_url)
    ids = make_pairs(sessions, 20, ["sim"])
    groups: list[int] = []

    def counted(
        sessions: sessionmaker[Session], token: str, results: Sequence[tuple[WorkItem, Result]]
    ) -> list[bool]:
        groups.append(len(results))
        return store_many(sessions, token, results)

    monkeypatch.setattr(judge_pairs, "store_many", counted)

    summary = judge_pairs.judge_chunk(settings_for(pg_url, trickling, concurrency=40), ids)

    assert summary.done == 40
    assert set(statuses(sessions, ids)) == {"done"}
    assert sum(groups) == 40
    # 40 replies spread over ~160 ms: written as they came, they took a write each or so.
    assert len(groups) <= 4, groups


def test_a_result_keeps_its_slot_until_it_is_stored(
    pg_url: str, trickling: BackgroundServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    sessions = session_factory(pg_url)
    ids = make_pairs(sessions, 6, ["sim"])
    writes = Writes(trickling)
    monkeypatch.setattr(judge_pairs, "store_many", writes.store_many)

    summary = judge_pairs.judge_chunk(settings_for(pg_url, trickling, concurrency=2), ids)

    assert summary.done == 12
    assert sum(writes.groups) == 12
    # While a group waits for its write, no other call has started: at most one per slot.
    assert max(writes.unstored) <= 2, writes.unstored
