"""A stack for fault tests: private PostgreSQL and Redis, the API, real worker processes.

The servers are private (tests/reliability/servers.py) because the tests stop, restart
and empty them. Leases and intervals are seconds, not minutes, so a killed worker's
claims come back within a test's patience.
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from judge_service.app import create_app
from judge_service.background import BackgroundServer
from judge_service.config import Settings
from judge_service.db import migrate
from judge_service.db.engine import engine_for, session_factory
from judge_service.db.models import Judgment
from judge_service.demo.sample import sample_pairs
from judge_service.simulate.config import SimulatorConfig
from judge_service.simulate.server import create_app as create_simulator
from tests.conftest import REPO, create_run, settings_env, simulated_judges, simulator_stats
from tests.reliability.servers import PrivatePostgres, PrivateRedis

# Calls take 0.2-0.3 s and a job runs two at a time, so a chunk lasts seconds: long
# enough to be caught in the middle.
SIM_LATENCY_S = 0.25
SIM_JITTER_S = 0.05
CONCURRENCY = 2
JOB_TIMEOUT_S = 10
LEASE_MARGIN_S = 2
RECONCILE_INTERVAL_S = 1
# The stack at default settings: a job keeps this many calls of half a second in flight.
DEFAULT_STACK_LATENCY_S = 0.5
DEFAULT_STACK_SLOTS = 8


@pytest.fixture(scope="session")
def private_pg() -> Iterator[PrivatePostgres]:
    try:
        server = PrivatePostgres()
        server.start()
    except (RuntimeError, OSError, KeyError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        pytest.fail(f"cannot start a private PostgreSQL: {exc} {detail!r}", pytrace=False)
    yield server
    server.close()


@pytest.fixture(scope="session")
def private_redis() -> Iterator[PrivateRedis]:
    try:
        server = PrivateRedis()
        server.start()
    except (RuntimeError, OSError) as exc:
        pytest.fail(f"cannot start a private Redis: {exc}", pytrace=False)
    yield server
    server.close()


class Worker:
    """`judge-service worker` in its own session; its log goes to a file (a pipe could fill)."""

    def __init__(self, settings: Settings, log_path: Path) -> None:
        self.log_path = log_path
        self.stopped = False  # by the test: any other exit is a failure
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "judge_service",
                    "worker",
                    "--name",
                    f"{log_path.stem}-{uuid.uuid4().hex[:6]}",
                ],
                env=settings_env(settings),
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def horses(self) -> list[int]:
        """The work horses RQ forked (each in a process group of its own)."""
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(pid) for pid in path.read_text().split()]
        except FileNotFoundError:
            return []

    def kill9(self) -> None:
        """A crash: SIGKILL to the worker and its horse at once, nothing runs after."""
        self.stopped = True
        for pid in [*self.horses(), self.process.pid]:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        self.stopped = True
        if self.alive():
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill9()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


class CallCounter:
    """ASGI middleware around the simulator: judge calls received, and answered (the reply
    made, whether or not its caller is still there to read it: a provider bills it)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.received = 0
        self.answered = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].endswith("/chat/completions"):
            await self.app(scope, receive, send)
            return
        self.received += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.answered += 1


@dataclass(frozen=True)
class Row:
    pair_id: int
    judge: str
    order: str
    status: str
    attempts: int
    finished_at: Any
    raw_response: str | None


@dataclass
class CrashStack:
    settings: Settings
    api: httpx.Client
    simulator: BackgroundServer
    pg: PrivatePostgres
    redis: PrivateRedis
    log_dir: Path
    calls: CallCounter
    workers: list[Worker] = field(default_factory=list)

    @property
    def sessions(self) -> sessionmaker[Session]:
        return session_factory(self.settings.database_url)

    def start_worker(self) -> Worker:
        worker = Worker(self.settings, self.log_dir / f"worker-{len(self.workers)}.log")
        self.workers.append(worker)
        return worker

    def submit(self, pairs: int) -> int:
        run = create_run(self.api, ["sim"])
        accepted = self.api.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": sample_pairs(pairs)})
        assert accepted.status_code == 202 and accepted.json()["accepted"] == pairs, accepted.text
        return int(run["id"])

    def rows(self, run_id: int) -> list[Row]:
        with self.sessions() as session:
            return [
                Row(*row)
                for row in session.execute(
                    select(
                        Judgment.pair_id,
                        Judgment.judge,
                        Judgment.order,
                        Judgment.status,
                        Judgment.attempts,
                        Judgment.finished_at,
                        Judgment.raw_response,
                    )
                    .where(Judgment.run_id == run_id)
                    .order_by(Judgment.id)
                ).all()
            ]

    def statuses(self, run_id: int) -> Counter[str]:
        """Judgments by status; empty while the database is unreachable."""
        try:
            return Counter(row.status for row in self.rows(run_id))
        except OperationalError:
            return Counter()

    def wait_for(self, what: str, condition: Callable[[], bool], timeout: float = 60) -> float:
        """Poll until `condition()`; returns the seconds it took."""
        start = time.monotonic()
        while not condition():
            died = [worker for worker in self.workers if not worker.stopped and not worker.alive()]
            if died or time.monotonic() - start > timeout:
                logs = "\n".join(worker.log()[-3000:] for worker in self.workers)
                cause = "a worker exited" if died else f"{timeout} s passed"
                raise AssertionError(f"not {what}: {cause}\nworker logs:\n{logs}")
            time.sleep(0.05)
        return time.monotonic() - start

    def wait_done(self, run_id: int, expected: int, timeout: float = 60) -> float:
        return self.wait_for(
            f"all {expected} judgments done",
            lambda: self.statuses(run_id)["done"] == expected,
            timeout,
        )

    def judge_calls(self) -> int:
        return int(simulator_stats(self.simulator)["requests"])


def one_row_per_call(rows: list[Row]) -> Counter[int]:
    """How many rows each (pair, judge, order) has, counted: {1: N} is exactly once."""
    return Counter(Counter((row.pair_id, row.judge, row.order) for row in rows).values())


@contextmanager
def _stack(
    pg: PrivatePostgres,
    redis: PrivateRedis,
    log_dir: Path,
    simulator_config: SimulatorConfig,
    judge: dict[str, Any],
    **settings_overrides: Any,
) -> Iterator[CrashStack]:
    """A fresh database and queue on the private servers, the API and a simulator."""
    for server in (pg, redis):
        if not server.running():
            server.start()  # a failed test before this one may have left it stopped
    name = f"crash_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg.url(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    database_url = pg.url(name).replace("postgresql://", "postgresql+psycopg://", 1)
    migrate.upgrade(database_url)
    with ExitStack() as cleanup:
        counter = CallCounter(create_simulator(simulator_config))
        simulator = cleanup.enter_context(BackgroundServer(counter))
        settings = Settings(
            database_url=database_url,
            redis_url=redis.url,
            queue_name=f"crash-{uuid.uuid4().hex[:8]}",
            judges={"sim": {**simulated_judges(simulator.url)["sim"], **judge}},
            **settings_overrides,
        )
        api = cleanup.enter_context(BackgroundServer(create_app(settings)))
        client = cleanup.enter_context(httpx.Client(base_url=api.url, timeout=30))
        stack = CrashStack(settings, client, simulator, pg, redis, log_dir, counter)
        cleanup.callback(lambda: [worker.stop() for worker in stack.workers])
        yield stack
    if not pg.running():
        pg.start()
    engine_for(database_url).dispose()
    with psycopg.connect(pg.url(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def crash_stack(
    private_pg: PrivatePostgres, private_redis: PrivateRedis, tmp_path: Path
) -> Iterator[CrashStack]:
    """Short timeouts and leases, a slow simulator, two calls at a time per job."""
    config = SimulatorConfig(latency_mean_s=SIM_LATENCY_S, latency_jitter_s=SIM_JITTER_S, seed=5)
    with _stack(
        private_pg,
        private_redis,
        tmp_path,
        config,
        {"timeout_s": 5.0, "max_concurrency": CONCURRENCY},
        chunk_size=6,
        job_timeout_s=JOB_TIMEOUT_S,
        lease_margin_s=LEASE_MARGIN_S,
        reconcile_interval_s=RECONCILE_INTERVAL_S,
    ) as stack:
        yield stack


@pytest.fixture
def default_stack(
    private_pg: PrivatePostgres, private_redis: PrivateRedis, tmp_path: Path
) -> Iterator[CrashStack]:
    """Every timing setting (job timeout, leases, heartbeat, reconcile) at its default."""
    config = SimulatorConfig(
        latency_mean_s=DEFAULT_STACK_LATENCY_S, latency_jitter_s=SIM_JITTER_S, seed=6
    )
    with _stack(
        private_pg, private_redis, tmp_path, config, {"max_concurrency": DEFAULT_STACK_SLOTS}
    ) as stack:
        yield stack
