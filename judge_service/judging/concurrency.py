"""Adaptive concurrency (AIMD) for one judge inside one job.

Starts at the judge's `max_concurrency`; a 429 or 529 halves it (at least 1), and each run
of as many successes in a row as the current limit adds one back (at most the maximum),
as TCP does with its window. One refusal episode halves once: calls that started before
the last decrease report refusals the decrease already answered (they carry its epoch).
"""

import asyncio


class AdaptiveConcurrency:
    def __init__(self, maximum: int) -> None:
        if maximum < 1:
            raise ValueError("maximum must be at least 1")
        self.maximum = maximum
        self.limit = maximum
        self.in_flight = 0
        self.epoch = 0  # bumped at each decrease
        self._successes = 0
        self._changed = asyncio.Condition()

    async def acquire(self) -> None:
        """Take one of the `limit` slots; waits while they are all taken.

        The holder gives it back with `release`: a job's writer does, once the call's result
        is stored, so a worker killed at any moment leaves at most one call per slot to redo.
        """
        async with self._changed:
            await self._changed.wait_for(lambda: self.in_flight < self.limit)
            self.in_flight += 1

    async def release(self) -> None:
        async with self._changed:
            self.in_flight -= 1
            self._changed.notify()  # one slot freed: one waiter, not all of them

    @property
    def full(self) -> bool:
        """Every slot is taken: a call may be waiting for one."""
        return self.in_flight >= self.limit

    def throttled(self, epoch: int) -> None:
        """A call started at `epoch` was refused (429/529): halve, once per episode."""
        if epoch != self.epoch:
            return
        self.limit = max(1, self.limit // 2)
        self.epoch += 1
        self._successes = 0

    async def succeeded(self) -> None:
        """A call went through: after `limit` in a row, one more slot."""
        self._successes += 1
        if self._successes >= self.limit and self.limit < self.maximum:
            self._successes = 0
            async with self._changed:
                self.limit += 1
                self._changed.notify()
