"""AIMD: halve on a refusal (once per episode), one more after a run of successes, in bounds."""

import asyncio

import pytest

from judge_service.judging.concurrency import AdaptiveConcurrency


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


def test_a_maximum_below_one_is_refused() -> None:
    with pytest.raises(ValueError):
        AdaptiveConcurrency(0)
