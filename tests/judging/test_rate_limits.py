"""The shared rate budget on a real Redis: paced, shared across processes, paused for all.

Waits are checked from below only (a budget cannot grant sooner than it allows), never
from above, so a slow machine cannot fail these tests.
"""

import asyncio
import json
import math
import threading
import time
import uuid

import pytest
import redis

from judge_service.background import free_port
from judge_service.judging.rate_limits import (
    BURST_S,
    PROBE_CREEP,
    PROBE_CREEP_S,
    PROBE_SETTLE,
    PROBE_START_RPM,
    RateBudgets,
    budget_key,
)
from tests.judging import budget_child

RPM = 1200  # 20 a second; a burst of BURST_S x 20


def namespace() -> str:
    return f"test-{uuid.uuid4().hex[:8]}"


def most_in_any_window(times: list[float], rate_per_s: float) -> float:
    """The largest excess of grants over `rate x window length` in any window of `times`."""
    times = sorted(times)
    return max(
        (j - i + 1) - rate_per_s * (times[j] - times[i])
        for i in range(len(times))
        for j in range(i, len(times))
    )


def test_two_processes_share_one_budget(redis_url: str) -> None:
    ns, per_child = namespace(), 30
    children = [budget_child.spawn(redis_url, ns, "j", RPM, per_child) for _ in range(2)]
    for child in children:
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    grants = [json.loads(child.communicate(timeout=60)[0]) for child in children]

    assert all(len(times) == per_child for times in grants)
    together = grants[0] + grants[1]
    rate = RPM / 60
    burst = BURST_S * rate
    # Both drew from one bucket: never more than a burst plus the refill in any window
    # (one grant of slack: a grant's time is read just after the script allowed it). Two
    # separate budgets would have let twice as many through.
    assert most_in_any_window(together, rate) <= burst + 1
    # And so the last of 60 grants came no sooner than (60 - burst) / rate after the first.
    assert max(together) - min(together) >= (2 * per_child - burst - 1) / rate


def test_a_pause_holds_every_caller_of_that_judge_only(redis_url: str) -> None:
    ns = namespace()

    async def scenario() -> tuple[float, float, float]:
        first, second = RateBudgets(redis_url, ns), RateBudgets(redis_url, ns)
        try:
            paused = first.for_judge("j", None, None)
            await paused.pause(0.5)
            started = time.monotonic()
            other_judge = await second.for_judge("k", None, None).acquire(1)
            waited = await second.for_judge("j", None, None).acquire(1)
            return time.monotonic() - started, waited, other_judge
        finally:
            await first.aclose()
            await second.aclose()

    elapsed, waited, other_judge = asyncio.run(scenario())
    assert other_judge == 0.0
    assert waited > 0 and elapsed >= 0.4  # what was left of the 0.5 s after two round trips


def test_a_pause_is_only_ever_lengthened(redis_url: str) -> None:
    ns = namespace()

    async def scenario() -> None:
        budgets = RateBudgets(redis_url, ns)
        try:
            budget = budgets.for_judge("j", None, None)
            await budget.pause(20)
            await budget.pause(1)
        finally:
            await budgets.aclose()

    asyncio.run(scenario())
    remaining_ms = redis.Redis.from_url(redis_url).pttl(budget_key(ns, "j", "pause"))
    assert remaining_ms > 10_000


def test_tokens_per_minute_pace_by_cost_and_are_settled_with_the_actual_usage(
    redis_url: str,
) -> None:
    ns = namespace()
    tpm = 60_000  # 1,000 tokens a second; a burst of 1,000

    async def scenario() -> tuple[float, float]:
        budgets = RateBudgets(redis_url, ns)
        try:
            budget = budgets.for_judge("j", None, tpm)
            await budget.acquire(1000)  # the whole burst
            started = time.monotonic()
            await budget.acquire(500)  # half a second of refill
            paced = time.monotonic() - started
            await budget.settle(500, 2500)  # it really used 2,000 more: two seconds owed
            started = time.monotonic()
            await budget.acquire(1)
            return paced, time.monotonic() - started
        finally:
            await budgets.aclose()

    paced, owed = asyncio.run(scenario())
    assert paced >= 0.45
    assert owed >= 1.9


def test_an_unreachable_redis_never_holds_a_call(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> float:
        budgets = RateBudgets(f"redis://127.0.0.1:{free_port()}/0", namespace())
        try:
            budget = budgets.for_judge("j", 1, 1)
            await budget.pause(5)
            return await budget.acquire(10)
        finally:
            await budgets.aclose()

    assert asyncio.run(scenario()) == 0.0
    messages = [
        r.getMessage() for r in caplog.records if r.name == "judge_service.judging.rate_limits"
    ]
    assert any("not shared" in m for m in messages) and any("not checked" in m for m in messages)


def test_hundreds_of_calls_at_once_are_all_paced(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A chunk keeps hundreds of calls in flight: each must be checked against the budget.

    (With a pool that refused past 100 connections, the rest went unchecked and the
    throughput bench met 429s on a third of its requests.)
    """
    ns, calls = namespace(), 300

    async def scenario() -> int:
        budgets = RateBudgets(redis_url, ns)
        budget = budgets.for_judge("j", 1_000_000, None)  # never waits: only the checks count
        try:
            await asyncio.gather(*(budget.acquire(1) for _ in range(calls)))
        finally:
            await budgets.aclose()
        with redis.Redis.from_url(redis_url) as client:
            return len(client.keys(budget_key(ns, "j", "*")))

    with caplog.at_level("WARNING", logger="judge_service.judging.rate_limits"):
        keys = asyncio.run(scenario())
    assert keys >= 1
    assert not [r for r in caplog.records if "not checked" in r.getMessage()]


def test_waiters_reserve_their_turn_instead_of_asking_again(redis_url: str) -> None:
    """Callers beyond the burst each get a turn and sleep once: one script run apiece.

    (Asking again at every refilled token woke every waiter at each token: the throughput
    bench's workers spent half their CPU on it.)
    """
    ns, callers = namespace(), 60  # at RPM: the burst goes at once, the rest over ~2 s
    pause_key, done = budget_key(ns, "j", "pause"), f"done-{ns}"
    runs: list[str] = []

    def count_script_runs() -> None:
        """Every EVAL on this budget's keys, as Redis's MONITOR sees them (the Redis is
        shared with other tests: its global command counts would count theirs)."""
        with redis.Redis.from_url(redis_url) as client, client.monitor() as monitor:
            ready.set()
            for command in monitor.listen():
                text = command["command"]
                if text.startswith("EVAL") and pause_key in text:
                    runs.append(text)
                elif done in text:
                    return

    async def scenario() -> list[float]:
        budgets = RateBudgets(redis_url, ns)
        budget = budgets.for_judge("j", RPM, None)
        try:
            return list(await asyncio.gather(*(budget.acquire(1) for _ in range(callers))))
        finally:
            await budgets.aclose()

    ready = threading.Event()
    counter = threading.Thread(target=count_script_runs)
    counter.start()
    assert ready.wait(10)
    waits = asyncio.run(scenario())
    with redis.Redis.from_url(redis_url) as client:
        client.echo(done)
    counter.join(10)
    assert sum(wait > 0 for wait in waits) >= callers - BURST_S * RPM / 60 - 1  # they queued
    assert len(runs) == callers


def test_announced_limits_pace_a_judge_configured_without_them(redis_url: str) -> None:
    """Without `rpm_limit`, the limit a response announced paces the next calls; a
    configured limit is never replaced by an announced one."""

    async def scenario() -> tuple[list[float | None], list[float]]:
        budgets = RateBudgets(redis_url, namespace())
        try:
            learning = budgets.for_judge("learning", None, None)
            configured = budgets.for_judge("configured", 600, None)
            rates = [learning.calls_per_s(100)]
            announced = {"x-ratelimit-limit-requests": str(RPM), "retry-after": "0"}
            await learning.pause(0.0, announced)
            await configured.pause(0.0, {"anthropic-ratelimit-requests-limit": "6000"})
            rates += [learning.calls_per_s(100), configured.calls_per_s(100)]
            started = time.monotonic()
            granted = []
            for _ in range(3 * RPM // 60):  # three seconds' worth, a second of burst
                await learning.acquire(100)
                granted.append(time.monotonic() - started)
            return rates, granted
        finally:
            await budgets.aclose()

    rates, granted = asyncio.run(scenario())
    assert rates == [None, RPM / 60, 10.0]
    assert granted[-1] >= 3 - BURST_S - 0.1


def test_a_token_limit_sizes_calls_by_what_replies_really_cost() -> None:
    budget = RateBudgets(None, namespace()).for_judge("j", None, 60_000)
    assert budget.calls_per_s(2_000) == 0.5  # the estimate, before any reply
    asyncio.run(budget.settle(2_000, 500))
    assert budget.calls_per_s(2_000) == 2.0


def test_a_budget_with_no_limit_known_probes_and_cuts_to_what_was_accepted(
    redis_url: str,
) -> None:
    """No limit configured or announced: the probe starts at `PROBE_START_RPM`; a 429 cuts it
    to the share of the requests sent that were accepted (x `PROBE_SETTLE`), at most once a
    second; once cut it creeps up by `PROBE_CREEP` while callers queue for it."""
    ns = namespace()

    async def scenario() -> list[float | None]:
        budgets = RateBudgets(redis_url, ns)
        try:
            budget = budgets.for_judge("j", None, None)
            rates = []
            for _ in range(10):  # inside the first second's burst: nobody waits
                assert await budget.acquire(1) == 0.0
            rates.append(budget.calls_per_s(1))
            for _ in range(3):  # three refusals in one episode: one cut
                await budget.observe(429, {})
            rates.append(budget.calls_per_s(1))
            await budget.observe(200, {"x-ratelimit-limit-requests": "junk"})
            # A step later, and callers keeping half a burst reserved: the rate creeps up.
            probe = budget_key(ns, "j", "probe")
            client = redis.Redis.from_url(redis_url)
            at = float(client.hget(probe, "at") or 0)
            client.hset(probe, "at", str(at - PROBE_CREEP_S * 1e6))
            cut_rpm = float(client.hget(probe, "rpm") or 0)
            for _ in range(math.ceil(cut_rpm / 60 * BURST_S / 2) + 1):
                await budget.acquire(1)
            rates.append(float(client.hget(probe, "rpm") or 0) / 60)
            return rates
        finally:
            await budgets.aclose()

    start, cut, crept = asyncio.run(scenario())
    assert start == PROBE_START_RPM / 60
    # The first refusal saw 10 sent and 1 refused; the two after it were only counted.
    assert cut == pytest.approx(start * 0.9 * PROBE_SETTLE, rel=1e-3)
    assert crept == pytest.approx(cut * PROBE_CREEP, rel=1e-3)


def test_a_configured_or_announced_limit_is_never_probed(redis_url: str) -> None:
    async def scenario() -> tuple[bool, bool, bool, float | None]:
        budgets = RateBudgets(redis_url, namespace())
        try:
            configured = budgets.for_judge("c", 600, None)
            learning = budgets.for_judge("l", None, None)
            was_probing = learning.probing
            await learning.observe(200, {"anthropic-ratelimit-requests-limit": "1200"})
            await learning.observe(429, {})
            return configured.probing, was_probing, learning.probing, learning.calls_per_s(1)
        finally:
            await budgets.aclose()

    assert asyncio.run(scenario()) == (False, True, False, 20.0)
    assert RateBudgets(None, namespace()).for_judge("j", None, None).probing is False


def test_each_episode_cuts_to_the_share_accepted(redis_url: str) -> None:
    """Once the provider's bucket is empty it accepts its limit and refuses the rest: the rate
    is cut to sent x (1 - refused share) x `PROBE_SETTLE` of the last two seconds."""
    ns = namespace()
    probe = budget_key(ns, "j", "probe")
    client = redis.Redis.from_url(redis_url)

    async def scenario() -> tuple[float, float]:
        budgets = RateBudgets(redis_url, ns)
        try:
            budget = budgets.for_judge("j", None, None)
            for _ in range(10):
                await budget.acquire(1)
            await budget.observe(429, {})  # the first cut: 9 of 10 accepted
            client.hset(probe, "cut", "0")  # long ago: the next 429 may cut again
            first = float(client.hget(probe, "rpm") or 0)
            for _ in range(4):
                await budget.observe(429, {})
            return first, float(client.hget(probe, "rpm") or 0)
        finally:
            await budgets.aclose()

    first, cut = asyncio.run(scenario())
    # 10 sent and 2 refused when it cut again (one from the first episode): 8 of 10.
    assert first == pytest.approx(PROBE_START_RPM * 0.9 * PROBE_SETTLE, rel=1e-3)
    assert cut == pytest.approx(first * 0.8 * PROBE_SETTLE, rel=1e-3)
