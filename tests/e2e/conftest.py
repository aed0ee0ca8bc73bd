"""An isolated stack per test: its own queue and simulator, so call counts are exact."""

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from judge_service.api.app import create_app
from judge_service.background import BackgroundServer
from judge_service.config import Settings
from judge_service.simulate.config import SimulatorConfig
from judge_service.simulate.server import create_app as create_simulator
from tests.conftest import WorkerProcess, simulated_judges, simulator_stats


@dataclass
class Stack:
    settings: Settings
    api: httpx.Client
    simulator: BackgroundServer
    workers: list[WorkerProcess] = field(default_factory=list)

    def start_worker(self) -> WorkerProcess:
        worker = WorkerProcess(self.settings, f"e2e-{uuid.uuid4().hex[:8]}")
        self.workers.append(worker)
        return worker

    def judge_calls(self) -> int:
        return int(simulator_stats(self.simulator)["requests"])


@pytest.fixture
def stack(pg_url: str, redis_url: str) -> Iterator[Stack]:
    config = SimulatorConfig(latency_mean_s=0.0, latency_jitter_s=0.0, seed=11)
    with BackgroundServer(create_simulator(config)) as simulator:
        settings = Settings(
            database_url=pg_url,
            redis_url=redis_url,
            queue_name=f"e2e-{uuid.uuid4().hex[:8]}",
            judges=simulated_judges(simulator.url),
            chunk_size=10,
        )
        with (
            BackgroundServer(create_app(settings)) as api,
            httpx.Client(base_url=api.url, timeout=30) as client,
        ):
            built = Stack(settings, client, simulator)
            yield built
            for worker in built.workers:
                worker.stop()
