"""Slots per job: Little's law from the judge's rate and the hold measured, backed off on
refusals; AIMD with slow start when no rate is known; always within the cap."""

import asyncio
import math

import pytest

from judge_service.judging import concurrency
from judge_service.judging.concurrency import HEADROOM, HOLD_UPDATE, AdaptiveConcurrency


def test_halves_once_per_episode_and_never_below_one() -> None:
    limit = AdaptiveConcurrency(8)
    assert limit.limit == 8
    started = limit.epoch
    limit.throttled(started)
    assert limit.limit == 4
    limit.throttled(started)  # a call from before the decrease: already answered
    limit.throttled(started)
    assert limit.limit == 4
    for expected in (2, 1, 1, 1):
        limit.throttled(limit.epoch)
        assert limit.limit == expected


def test_climbs_by_one_after_a_run_of_successes_up_to_the_maximum() -> None:
    async def scenario() -> list[int]:
        limit = AdaptiveConcurrency(4)
        limit.throttled(limit.epoch)
        limit.throttled(limit.epoch)
        seen = [limit.limit]
        for _ in range(20):
            await limit.succeeded()
            seen.append(limit.limit)
        return seen

    seen = asyncio.run(scenario())
    assert seen[0] == 1
    # 1 success at limit 1, then 2 at limit 2, then 3 at limit 3; then it stays at 4.
    assert seen[1] == 2 and seen[3] == 3 and seen[6] == 4
    assert seen[1:3] == [2, 2] and seen[3:6] == [3, 3, 3] and set(seen[6:]) == {4}


def test_a_refusal_resets_the_run_of_successes() -> None:
    async def scenario() -> int:
        limit = AdaptiveConcurrency(8)
        limit.throttled(limit.epoch)  # 4
        for _ in range(3):
            await limit.succeeded()
        limit.throttled(limit.epoch)  # 2: the three successes no longer count
        await limit.succeeded()
        return limit.limit

    assert asyncio.run(scenario()) == 2


def test_slots_never_exceed_the_current_limit() -> None:
    async def scenario() -> tuple[int, int]:
        limit = AdaptiveConcurrency(6)
        peak = 0

        async def call(refused: bool) -> None:
            nonlocal peak
            await limit.acquire()
            epoch = limit.epoch
            peak = max(peak, limit.in_flight)
            await asyncio.sleep(0.01)
            if refused:
                limit.throttled(epoch)
            await limit.release()

        await asyncio.gather(*(call(refused=True) for _ in range(6)))
        first_peak, peak = peak, 0
        await asyncio.gather(*(call(refused=False) for _ in range(12)))
        return first_peak, peak

    first_peak, after_refusals = asyncio.run(scenario())
    assert first_peak == 6
    assert after_refusals == 3  # six concurrent refusals are one episode: 6 -> 3


def test_full_while_every_slot_is_held() -> None:
    async def scenario() -> list[bool]:
        limit = AdaptiveConcurrency(2)
        seen = [limit.full]
        for _ in range(2):
            await limit.acquire()
            seen.append(limit.full)
        await limit.release()
        return [*seen, limit.full]

    assert asyncio.run(scenario()) == [False, False, True, False]


def test_a_cap_below_one_is_refused() -> None:
    with pytest.raises(ValueError):
        AdaptiveConcurrency(0)


def test_without_a_cap_the_bound_is_the_memory_one() -> None:
    limit = AdaptiveConcurrency()
    limit.follow(10_000.0)  # a rate no job could hold in flight
    assert limit.limit == limit.maximum == concurrency.MAX_IN_FLIGHT


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(concurrency.time, "monotonic", fake)
    return fake


async def hold(limit: AdaptiveConcurrency, clock: Clock, seconds: float, waited: float) -> None:
    """`HOLD_UPDATE` calls at once, each holding its slot `seconds`, the first `waited` of
    them queued at the shared budget."""
    for _ in range(HOLD_UPDATE):
        await limit.acquire()
        limit.calling(+1)
    clock.now += waited
    for _ in range(HOLD_UPDATE):
        limit.answering(+1)
    clock.now += seconds - waited
    for _ in range(HOLD_UPDATE):
        limit.answering(-1)
        limit.calling(-1)
        await limit.release()


def test_with_a_rate_the_limit_follows_the_hold_measured(clock: Clock) -> None:
    async def scenario() -> list[int]:
        limit = AdaptiveConcurrency()
        limit.follow(100.0)  # 6,000 requests/min
        seen = [limit.limit]  # before any call ended: the assumed hold
        await hold(limit, clock, 2.0, 0.0)
        seen.append(limit.limit)
        for _ in range(4):  # latency fell: a measurement spans MEASURE_S
            await hold(limit, clock, 0.5, 0.0)
        seen.append(limit.limit)
        await hold(limit, clock, 3.0, 2.5)  # the same latency; the rest queued at the budget
        seen.append(limit.limit)
        return seen

    seen = asyncio.run(scenario())
    assert seen[:2] == [math.ceil(100 * s * HEADROOM) for s in (concurrency.INITIAL_HOLD_S, 2.0)]
    # Little's law's 63 once latency fell to 0.5 s, the budget's queueing not counted; a
    # measurement's edge may cut a bunch of releases (a third more, at most, here).
    needed = math.ceil(100 * 0.5 * HEADROOM)
    assert all(needed <= limit <= needed * 4 / 3 for limit in seen[2:]), seen


def test_with_a_rate_a_refusal_halves_it_and_successes_win_it_back(clock: Clock) -> None:
    async def scenario() -> list[int]:
        limit = AdaptiveConcurrency(cap=512)
        limit.follow(100.0)
        await hold(limit, clock, 2.0, 0.0)
        seen = [limit.limit]
        started = limit.epoch
        for _ in range(5):
            limit.throttled(started)  # one episode
        seen.append(limit.limit)
        for _ in range(10 * 250):
            await limit.succeeded()
        seen.append(limit.limit)
        return seen

    full = round(100 * 2.0 * HEADROOM)
    seen = asyncio.run(scenario())
    assert seen[:2] == [full, full // 2]
    assert seen[2] == full  # five runs of successes give back the half lost


def test_the_cap_bounds_a_rate_limit(clock: Clock) -> None:
    async def scenario() -> int:
        limit = AdaptiveConcurrency(cap=40)
        limit.follow(100.0)
        await hold(limit, clock, 2.0, 0.0)
        return limit.limit

    assert asyncio.run(scenario()) == 40


def test_without_a_rate_it_doubles_until_the_first_refusal_then_climbs_by_one() -> None:
    async def scenario() -> list[int]:
        limit = AdaptiveConcurrency()
        seen = [limit.limit]
        for _ in range(3):
            for _ in range(limit.limit):
                await limit.succeeded()
            seen.append(limit.limit)
        limit.throttled(limit.epoch)
        seen.append(limit.limit)
        for _ in range(limit.limit):
            await limit.succeeded()
        seen.append(limit.limit)
        return seen

    start = concurrency.START
    assert asyncio.run(scenario()) == [
        start,
        2 * start,
        4 * start,
        8 * start,
        4 * start,
        4 * start + 1,
    ]


def test_calls_waiting_for_a_slot_take_those_a_rate_opens_at_once() -> None:
    """The first calls learn the rate; the others, already waiting, need no release."""

    async def scenario() -> int:
        limit = AdaptiveConcurrency()
        for _ in range(concurrency.START):
            await limit.acquire()
        waiting = [asyncio.ensure_future(limit.acquire()) for _ in range(20)]
        await asyncio.sleep(0)
        assert not any(task.done() for task in waiting)
        limit.follow(100.0)
        await asyncio.wait_for(asyncio.gather(*waiting), timeout=1)
        return limit.in_flight

    assert asyncio.run(scenario()) == concurrency.START + 20
