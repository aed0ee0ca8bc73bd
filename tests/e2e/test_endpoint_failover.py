"""One judge on two endpoints, one of them killed mid-run: the run completes on the other.

Two simulated providers run as processes of their own (`judge-service simulate`), each
allowing 600 requests a minute; the judge lists both, each at its limit, and two real worker
processes judge. A third of the way through, one provider is killed (SIGKILL). The calls in
flight to it and those sent to it before the workers notice fail over to the survivor within
the same attempt: the judge has `max_retries = 0`, so a failover that spent a retry would
fail its judgment. Every judgment is stored exactly once, and after the kill the run goes on
at the surviving endpoint's rate (its budget, and the job's slots, follow it alone).
"""

import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from judge_service.background import free_port
from judge_service.db.engine import session_factory
from judge_service.db.models import Judgment
from judge_service.demo.sample import sample_pairs
from tests.api.test_metrics import Scrape
from tests.conftest import KEY_ENV, StackFactory, create_run, start_cli

pytestmark = pytest.mark.slow
RPM = 600
PAIRS = 200
CALLS = PAIRS * 2  # both orders
KILL_AT = CALLS // 3


class SimulatorProcess:
    """`judge-service simulate` on a port of its own: the SIMULATED provider, killable."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = start_cli(
            "simulate",
            "--port",
            str(self.port),
            "--rpm-limit",
            str(RPM),
            "--latency-mean-s",
            "0.05",
            "--latency-jitter-s",
            "0.02",
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{self.url}/simulator/stats", timeout=1).raise_for_status()
                return
            except httpx.HTTPError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise AssertionError("the simulated provider did not start") from None
                time.sleep(0.1)

    def stats(self) -> dict[str, Any]:
        return httpx.get(f"{self.url}/simulator/stats", timeout=5).raise_for_status().json()

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)


@pytest.fixture
def providers() -> Iterator[tuple[SimulatorProcess, SimulatorProcess]]:
    started: list[SimulatorProcess] = []
    try:
        started += [SimulatorProcess(), SimulatorProcess()]
        yield started[0], started[1]
    finally:
        for provider in started:
            if provider.process.poll() is None:
                provider.kill()


def test_a_killed_endpoint_loses_no_judgment_and_the_other_carries_on(
    stack_factory: StackFactory, providers: tuple[SimulatorProcess, SimulatorProcess]
) -> None:
    survivor, victim = providers

    def judges(_url: str) -> dict[str, dict[str, Any]]:
        endpoints = [
            {"base_url": f"{p.url}/v1", "api_key_env": KEY_ENV, "rpm_limit": RPM}
            for p in (survivor, victim)
        ]
        common = {"model": "simulated-judge", "max_retries": 0, "structured": False}
        return {"sim": {"provider": "openai", "endpoints": endpoints, "timeout_s": 5.0, **common}}

    stack = stack_factory(judges=judges, chunk_size=10)
    run = create_run(stack.api, ["sim"])
    accepted = stack.api.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": sample_pairs(PAIRS)})
    assert accepted.status_code == 202, accepted.text

    def done() -> int:
        counts = stack.api.get(f"/v1/runs/{run['id']}").raise_for_status().json()["counts"]
        return int(counts["judgments_done"])

    progress: list[tuple[float, int]] = []  # (seconds since the workers started, done)
    workers = [stack.start_worker(), stack.start_worker()]
    started = time.monotonic()
    killed_at: float | None = None
    while not progress or progress[-1][1] < CALLS:
        now = time.monotonic() - started
        assert now < 240, f"run not done: {progress[-1:]}"
        progress.append((now, done()))
        if killed_at is None and progress[-1][1] >= KILL_AT:
            victim.kill()
            killed_at = time.monotonic() - started
        time.sleep(0.1)
    for worker in workers:
        worker.stop()
    assert killed_at is not None

    # Every judgment stored once, done: none lost, none doubled.
    with session_factory(stack.settings.database_url)() as session:
        rows = session.execute(
            select(Judgment.pair_id, Judgment.judge, Judgment.order, Judgment.status).where(
                Judgment.run_id == run["id"]
            )
        ).all()
    per_call = Counter((row.pair_id, row.judge, row.order) for row in rows)
    assert len(per_call) == CALLS and set(per_call.values()) == {1}
    assert Counter(row.status for row in rows) == {"done": CALLS}

    # Throughput: before the kill both endpoints (from the first stored judgments: the
    # workers take seconds to start); from 2 s after it (the calls in flight failed over) to
    # the end, the survivor alone, at its limit.
    def done_at(t: float) -> tuple[float, int]:
        return next((when, count) for when, count in progress if when >= t)

    first_t, first_done = next((when, count) for when, count in progress if count >= 20)
    before = (KILL_AT - first_done) / (killed_at - first_t)
    after_t, after_done = done_at(killed_at + 2.0)
    end_t = progress[-1][0]
    after = (CALLS - after_done) / (end_t - after_t)
    survivor_stats = survivor.stats()
    print(
        f"\nthroughput: {before:.1f}/s before the kill (two endpoints of {RPM / 60:.0f}/s), "
        f"{after:.1f}/s after it (one); survivor answered {survivor_stats['requests']} "
        f"calls ({survivor_stats['rate_limited']} of them 429); run took {end_t:.1f} s"
    )
    assert 0.7 * RPM / 60 <= after <= 1.2 * RPM / 60
    assert before > 1.2 * RPM / 60  # both endpoints took calls before the kill

    scrape = Scrape(stack.api)
    labels = stack.settings.all_judges["sim"].endpoint_labels()
    victim_errors = scrape.total("judge_endpoint_errors_total", judge="sim", endpoint=labels[1])
    assert victim_errors >= 1
    assert (
        scrape.value("judge_endpoint_calls_total", judge="sim", endpoint=labels[0])
        == (survivor_stats["requests"])
    )
