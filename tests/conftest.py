"""Shared fixtures: real PostgreSQL, real Redis, the simulated judge provider.

Postgres and Redis are required. A test that needs one fails with a clear
message when it does not answer; nothing is skipped silently.
"""

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import redis

from judge_service.app import create_app
from judge_service.background import BackgroundServer
from judge_service.config import Settings
from judge_service.db import migrate
from judge_service.db.engine import dispose_engine
from judge_service.jobs.dispatch import judge_queue
from judge_service.simulate.config import SimulatorConfig
from judge_service.simulate.server import create_app as create_simulator

# The developer's own JUDGE_* settings must not leak into tests.
for _name in [name for name in os.environ if name.startswith("JUDGE_")]:
    del os.environ[_name]

PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
KEY_ENV = "JUDGE_TEST_SIMULATED_KEY"
REPO = Path(__file__).resolve().parents[1]


def _sqlalchemy_url(libpq_url: str) -> str:
    return libpq_url.replace("postgresql://", "postgresql+psycopg://", 1)


@pytest.fixture(scope="session")
def pg_admin() -> str:
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=5):
            pass
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is required at {PG_ADMIN_URL} and did not answer ({exc}). "
            "Start it: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
            pytrace=False,
        )
    return PG_ADMIN_URL


@pytest.fixture(scope="session")
def make_pg_database(pg_admin: str) -> Iterator[Callable[..., str]]:
    """Creates databases on the shared server (empty, or copies of `template`), dropped at
    the end of the session."""
    created: list[str] = []

    def make(template: str | None = None) -> str:
        name = f"judge_test_{uuid.uuid4().hex[:10]}"
        copy = f' TEMPLATE "{template}"' if template else ""
        with psycopg.connect(pg_admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"{copy}')
        created.append(name)
        return _sqlalchemy_url(pg_admin.rsplit("/", 1)[0] + "/" + name)

    yield make
    with psycopg.connect(pg_admin, autocommit=True) as conn:
        for name in created:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def make_migrated_database(make_pg_database: Callable[..., str]) -> Callable[[], str]:
    """Copies of a database migrated once; nothing connects to the template afterwards.

    `CREATE DATABASE ... TEMPLATE` copies files, so a private database costs a fraction of
    a second where running the migrations again would cost seconds.
    """
    template = make_pg_database()
    migrate.upgrade(template)
    name = template.rsplit("/", 1)[1]
    return lambda: make_pg_database(name)


@pytest.fixture(scope="session")
def pg_url(make_pg_database: Callable[..., str]) -> str:
    """A fresh database for the session, its schema built by Alembic."""
    url = make_pg_database()
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="session")
def redis_url() -> str:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=5).ping()
    except redis.RedisError as exc:
        pytest.fail(
            f"Redis is required at {REDIS_URL} and did not answer ({exc}). Start it: "
            "redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no",
            pytrace=False,
        )
    return REDIS_URL


@pytest.fixture(scope="session")
def simulator() -> Iterator[BackgroundServer]:
    """The SIMULATED judge provider, unbiased, answering at once."""
    config = SimulatorConfig(latency_mean_s=0.0, latency_jitter_s=0.0, seed=11)
    with BackgroundServer(create_simulator(config)) as server:
        yield server


def simulator_stats(server: BackgroundServer) -> dict[str, Any]:
    return httpx.get(f"{server.url}/simulator/stats").raise_for_status().json()


def simulated_judges(simulator_url: str) -> dict[str, dict[str, Any]]:
    """One judge per wire format, both on the given simulator; no SDK retries."""
    os.environ[KEY_ENV] = "simulated-test-key"
    common = {
        "model": "simulated-judge",
        "api_key_env": KEY_ENV,
        "max_retries": 0,
        "structured": False,
    }
    return {
        "sim": {"provider": "openai", "base_url": f"{simulator_url}/v1", **common},
        "sim-anthropic": {"provider": "anthropic", "base_url": simulator_url, **common},
    }


@pytest.fixture(scope="session")
def judges(simulator: BackgroundServer) -> dict[str, dict[str, Any]]:
    return simulated_judges(simulator.url)


def empty_queue(redis_url: str, name: str) -> None:
    """Drop a test's queue and the jobs no worker ran: without a TTL they would stay in Redis."""
    client = redis.Redis.from_url(redis_url)
    try:
        judge_queue(client, name).empty()
    finally:
        client.close()


@pytest.fixture(scope="session")
def queue_name(redis_url: str) -> Iterator[str]:
    name = f"judge-test-{uuid.uuid4().hex[:8]}"
    yield name
    empty_queue(redis_url, name)


@pytest.fixture(scope="session")
def pg_settings(
    pg_url: str, redis_url: str, queue_name: str, judges: dict[str, dict[str, Any]]
) -> Settings:
    return Settings(
        database_url=pg_url,
        redis_url=redis_url,
        queue_name=queue_name,
        judges=judges,
        chunk_size=10,
    )


def cli_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without the developer's JUDGE_* settings, plus `env`."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith("JUDGE_")}, **(env or {})}


def start_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path = REPO, **popen: Any
) -> subprocess.Popen[str]:
    """`judge-service ARGS` as a process of its own, as a user starts it."""
    return subprocess.Popen(
        [sys.executable, "-m", "judge_service", *args],
        env=cli_env(env),
        cwd=cwd,
        text=True,
        **popen,
    )


@dataclass(frozen=True)
class ServingDemo:
    process: subprocess.Popen[str]
    output: str  # what it printed up to its "press Ctrl-C" line
    base_url: str  # http://host:port
    run_id: int

    def stop(self, signum: int = signal.SIGINT) -> None:
        """Stop it as a user (Ctrl-C) or a service manager (SIGTERM) would: it exits 0."""
        self.process.send_signal(signum)
        assert self.process.wait(timeout=60) == 0


@contextmanager
def serving_demo(cwd: Path, pairs: int, columns: int = 160) -> Iterator[ServingDemo]:
    """`judge-service demo` serving its dashboard on a free port, once it says so; killed on
    the way out unless the test stopped it."""
    demo = start_cli(
        *("demo", "--pairs", str(pairs), "--port", "0"),
        env={"COLUMNS": str(columns), "PYTHONPATH": str(REPO)},
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        assert demo.stdout is not None
        lines: list[str] = []
        for line in demo.stdout:
            lines.append(line)
            if "press Ctrl-C" in line:
                break
        output = "".join(lines)
        url = re.search(r"Dashboard: (http://\S+)/runs/(\d+)", output)
        assert url, output
        yield ServingDemo(demo, output, url[1], int(url[2]))
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment a worker process needs to see the same settings."""
    env = cli_env()
    env.update(
        JUDGE_DATABASE_URL=settings.database_url,
        JUDGE_QUEUE_NAME=settings.queue_name,
        JUDGE_CHUNK_SIZE=str(settings.chunk_size),
        JUDGE_JOB_TIMEOUT_S=str(settings.job_timeout_s),
        JUDGE_LEASE_MARGIN_S=str(settings.lease_margin_s),
        JUDGE_RECONCILE_INTERVAL_S=str(settings.reconcile_interval_s),
        JUDGE_LOG_FORMAT=settings.log_format,
        JUDGE_LOG_LEVEL=settings.log_level,
        JUDGE_BATCH_MAX_REQUESTS=str(settings.batch_max_requests),
        JUDGE_BATCH_MAX_ATTEMPTS=str(settings.batch_max_attempts),
        JUDGE_JUDGES=json.dumps({k: v.model_dump() for k, v in settings.judges.items()}),
        **{KEY_ENV: os.environ.get(KEY_ENV, "")},
    )
    if settings.redis_url:
        env["JUDGE_REDIS_URL"] = settings.redis_url
    return env


class WorkerProcess:
    """A real `judge-service worker` subprocess; its output goes to a file (a pipe could fill)."""

    def __init__(self, settings: Settings, name: str) -> None:
        self._output = tempfile.TemporaryFile()  # noqa: SIM115 (stop() reads and closes it)
        self._text = ""
        self.process = subprocess.Popen(
            [sys.executable, "-m", "judge_service", "worker", "--name", name],
            env=settings_env(settings),
            cwd=REPO,
            stdout=self._output,
            stderr=subprocess.STDOUT,
        )

    def stop(self) -> str:
        """Stops the worker; returns what it wrote to stdout and stderr."""
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if not self._output.closed:  # stopped before: the output was read then
            with self._output:
                self._output.seek(0)
                self._text = self._output.read().decode(errors="replace")
        return self._text


@pytest.fixture(scope="session")
def pg_api(pg_settings: Settings) -> Iterator[httpx.Client]:
    """The API on Postgres + RQ, on a real socket."""
    with (
        BackgroundServer(create_app(pg_settings)) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        yield client


def wait_until_done(client: httpx.Client, run_id: int, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        run = client.get(f"/v1/runs/{run_id}").raise_for_status().json()
        if run["status"] == "done":
            return run
        if time.monotonic() > deadline:
            raise AssertionError(f"run {run_id} not done after {timeout} s: {run}")
        time.sleep(0.1)


def create_run(client: httpx.Client, judges: list[str], **extra: Any) -> dict[str, Any]:
    body = {"name": "test", "baseline": "base", "candidate": "tuned", "judges": judges, **extra}
    response = client.post("/v1/runs", json=body)
    assert response.status_code == 201, response.text
    return response.json()


@dataclass
class Stack:
    settings: Settings
    api: httpx.Client
    simulator: BackgroundServer
    workers: list[WorkerProcess] = field(default_factory=list)

    def start_worker(self, **settings_update: Any) -> WorkerProcess:
        """A worker on the stack's settings, changed by `settings_update` (`log_format="json"`)."""
        settings = self.settings.model_copy(update=settings_update)
        worker = WorkerProcess(settings, f"e2e-{uuid.uuid4().hex[:8]}")
        self.workers.append(worker)
        return worker

    def judge_calls(self) -> int:
        return int(simulator_stats(self.simulator)["requests"])


StackFactory = Callable[..., Stack]


@pytest.fixture
def stack_factory(
    make_migrated_database: Callable[[], str], redis_url: str
) -> Iterator[StackFactory]:
    """Isolated stacks: `stack_factory(judges=lambda url: {...}, reconcile_interval_s=1)`.

    The stacks of one test share a database of their own: workers reconcile every run
    they can see, so in the session's database they would judge other tests' leftovers
    and make this test's counts of judge calls wrong.
    """
    database_url: list[str] = []  # made at the first stack
    with ExitStack() as cleanup:

        def start(
            judges: Callable[[str], dict[str, dict[str, Any]]] = simulated_judges,
            simulator_config: SimulatorConfig | None = None,
            **settings_overrides: Any,
        ) -> Stack:
            config = simulator_config or SimulatorConfig(
                latency_mean_s=0.0, latency_jitter_s=0.0, seed=11
            )
            simulator = cleanup.enter_context(BackgroundServer(create_simulator(config)))
            os.environ.setdefault(KEY_ENV, "simulated-test-key")  # the judges' api_key_env
            if not database_url:
                database_url.append(make_migrated_database())
                # Last out: the test's own sessions pooled connections to it too.
                cleanup.callback(dispose_engine, database_url[0])
            settings = Settings(
                database_url=database_url[0],
                redis_url=redis_url,
                queue_name=f"e2e-{uuid.uuid4().hex[:8]}",
                judges=judges(simulator.url),
                **{"chunk_size": 10, **settings_overrides},
            )
            # Runs after the stack's API and workers stop (callbacks run last in, first out).
            cleanup.callback(empty_queue, redis_url, settings.queue_name)
            api = cleanup.enter_context(BackgroundServer(create_app(settings)))
            client = cleanup.enter_context(httpx.Client(base_url=api.url, timeout=30))
            built = Stack(settings, client, simulator)
            cleanup.callback(lambda: [worker.stop() for worker in built.workers])
            return built

        yield start


@pytest.fixture
def stack(stack_factory: StackFactory) -> Stack:
    """An API on Postgres with its own RQ queue and simulated provider; start workers on it."""
    return stack_factory()
