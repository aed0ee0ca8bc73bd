"""`judge-service worker --processes N`: N real workers under one parent, stopped by its signal."""

import contextlib
import os
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import IO

import pytest
from redis import Redis
from rq import Worker

from judge_service.demo.sample import sample_pairs
from judge_service.simulate.config import SimulatorConfig
from tests.conftest import Stack, StackFactory, create_run, settings_env, start_cli, wait_until_done

pytestmark = pytest.mark.slow


def start_pool(stack: Stack, name: str, *options: str, log: IO[bytes]) -> subprocess.Popen[str]:
    return start_cli(
        "worker",
        "--processes",
        "2",
        "--name",
        name,
        *options,
        env=settings_env(stack.settings),
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def pool_workers(stack: Stack, name: str) -> list[Worker]:
    assert stack.settings.redis_url
    redis = Redis.from_url(stack.settings.redis_url)
    return [w for w in Worker.all(connection=redis) if w.name.startswith(f"{name}-")]


def wait_for_workers(stack: Stack, name: str, count: int) -> list[Worker]:
    deadline = time.monotonic() + 60
    while len(workers := pool_workers(stack, name)) < count:
        assert time.monotonic() < deadline, f"{len(workers)} of {count} workers registered"
        time.sleep(0.1)
    return workers


def children_of(pid: int) -> list[int]:
    """Processes whose parent is `pid` (a worker's work horse), read from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                found.append(int(stat.parent.name))
    return found


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_the_processes_judge_and_all_stop_at_the_parents_signal(
    stack_factory: StackFactory, signum: signal.Signals
) -> None:
    stack = stack_factory()
    name = f"pool-{uuid.uuid4().hex[:6]}"
    with tempfile.TemporaryFile() as log:
        parent = start_pool(stack, name, log=log)
        try:
            workers = wait_for_workers(stack, name, 2)
            assert sorted(w.name for w in workers) == [f"{name}-1", f"{name}-2"]
            assert parent.pid not in {w.pid for w in workers}
            run = create_run(stack.api, ["sim", "sim-anthropic"])
            stack.api.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": sample_pairs(10)})
            done = wait_until_done(stack.api, run["id"], timeout=120)
            assert done["counts"]["judgments_done"] == 40
        finally:
            parent.send_signal(signum)
            returncode = parent.wait(timeout=60)
    assert returncode == 0
    assert pool_workers(stack, name) == []  # each child said its warm goodbye to RQ
    assert all(gone(w.pid) for w in workers)


def test_a_child_still_busy_after_the_stop_timeout_is_shut_down_cold(
    stack_factory: StackFactory,
) -> None:
    """Every call takes 30 s: a warm shutdown would wait for them, the parent waits 1 s, then
    has RQ take each busy child down with its work horse."""
    stack = stack_factory(
        simulator_config=SimulatorConfig(latency_mean_s=30.0, latency_jitter_s=0.0, seed=11)
    )
    run = create_run(stack.api, ["sim"])
    stack.api.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": sample_pairs(4)})
    name = f"pool-{uuid.uuid4().hex[:6]}"
    with tempfile.TemporaryFile() as log:
        parent = start_pool(stack, name, "--stop-timeout-s", "1", log=log)
        try:
            workers = wait_for_workers(stack, name, 2)
            deadline = time.monotonic() + 60
            while stack.judge_calls() == 0:  # a call is in flight
                assert time.monotonic() < deadline, "no judge call started"
                time.sleep(0.1)
            horses = [horse for w in workers for horse in children_of(w.pid)]
        finally:
            parent.terminate()
            parent.wait(timeout=60)
        log.seek(0)
        output = log.read().decode(errors="replace")
    assert horses, "a worker was judging"
    assert "still busy: cold shutdown" in output
    assert all(gone(pid) for pid in [w.pid for w in workers] + horses)
