"""A job's event loop: timers fall due on a grid, never early; I/O is never held back."""

import asyncio
import math
import socket

import pytest

from judge_service.background import BackgroundServer
from judge_service.db.engine import session_factory
from judge_service.jobs import judge_pairs
from judge_service.jobs.job_loop import GRID_S, JobLoop
from tests.jobs.test_claims import make_pairs
from tests.jobs.test_writes import settings_for


def on_grid(when: float) -> bool:
    steps = when / GRID_S
    return math.isclose(steps, round(steps), abs_tol=1e-6)


@pytest.mark.parametrize("delay", [0.0, 0.001, 0.049, GRID_S, 0.37, 2.0])
def test_a_timer_is_due_at_the_next_grid_line_never_before_its_time(delay: float) -> None:
    loop = JobLoop()
    try:
        asked = loop.time() + delay
        handle = loop.call_at(asked, lambda: None)
        assert on_grid(handle.when())
        assert asked <= handle.when() < asked + GRID_S + 1e-6
        handle.cancel()
    finally:
        loop.close()


def test_timers_due_within_one_step_fire_in_the_same_pass() -> None:
    """Ten sleeps a millisecond apart: at most two grid lines (they may straddle one)."""

    async def scenario() -> list[float]:
        loop = asyncio.get_running_loop()
        start = loop.time()
        handles = [loop.call_at(start + i / 1000, lambda: None) for i in range(10)]
        await asyncio.sleep(0.001)
        return [handle.when() for handle in handles]

    with asyncio.Runner(loop_factory=JobLoop) as runner:
        whens = runner.run(scenario())
    assert len(set(whens)) <= 2, whens


def test_round_trips_are_not_held_back_by_the_grid() -> None:
    """50 echoes over a socket pair: held a grid step each they would take 5 s."""

    async def scenario() -> float:
        loop = asyncio.get_running_loop()
        ours, theirs = socket.socketpair()
        ours.setblocking(False)
        theirs.setblocking(False)
        loop.add_reader(theirs.fileno(), lambda: theirs.send(theirs.recv(16)))
        started = loop.time()
        for n in range(50):
            await loop.sock_sendall(ours, bytes([n]))
            assert await loop.sock_recv(ours, 16) == bytes([n])
        loop.remove_reader(theirs.fileno())
        ours.close()
        theirs.close()
        return loop.time() - started

    with asyncio.Runner(loop_factory=JobLoop) as runner:
        seconds = runner.run(scenario())
    assert seconds < 50 * GRID_S / 3, seconds


def test_a_chunk_is_judged_on_the_job_loop(
    pg_url: str, simulator: BackgroundServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    loops: list[asyncio.AbstractEventLoop] = []

    def recorded() -> asyncio.AbstractEventLoop:
        loops.append(JobLoop())
        return loops[-1]

    monkeypatch.setattr(judge_pairs, "JobLoop", recorded)
    sessions = session_factory(pg_url)
    ids = make_pairs(sessions, 2, ["sim"])
    summary = judge_pairs.judge_chunk(settings_for(pg_url, simulator, concurrency=4), ids)
    assert summary.done == 4
    assert len(loops) == 1 and isinstance(loops[0], JobLoop)
