"""How many calls one judge may have in flight inside one job: what its rate allows.

With a rate (the judge's `rpm_limit` or `tpm_limit`, a limit its provider's headers
announced, or the rate its shared budget is probing at; for a judge of several endpoints, the
live endpoints' rates added up, `judging/endpoints.py`), Little's law gives the slots the
rate needs: rate x the time a call holds its slot, with `HEADROOM`. The hold is measured as
the job goes, by Little's law again: the slots busy over time divided by the slots given
back. A slot is busy from its taking to its giving back (the writer's wait included)
except while its call waits with no answer on its way (queued at the shared budget,
refused, waiting to retry): those waits grow with the calls in flight, and counting them
would let the limit feed on itself. Latency that grows
grows the limit within a measurement (`MEASURE_S`); one that shrinks, shrinks it.

A 429 or 529 halves a backoff factor on that product (once per episode: calls that started
before the last decrease carry its epoch), and each run of as many successes in a row as
the current limit gives back a tenth of it, until it is whole again.

Without a rate (no Redis to share a probe through: the embedded mode) the limit is plain
AIMD, as TCP does with its window: it starts at the cap when one is given, else at `START`,
doubling after each run of successes until the first refusal (slow start); then it climbs
by one, and a refusal halves it.

Always at least 1 and at most `cap` (the judge's optional `max_concurrency`) and
`MAX_IN_FLIGHT`, which protects the job's memory and sockets.
"""

import asyncio
import math
import time

MAX_IN_FLIGHT = 1024
HEADROOM = 1.25
START = 8
# The hold assumed before any call has ended: a typical judge's reply plus the writer's wait.
INITIAL_HOLD_S = 2.0
# A measurement of the hold spans at least this many releases and seconds (and one hold):
# replies and writes come in bunches, and a shorter window sees a bunch or a gap.
HOLD_UPDATE = 16
MEASURE_S = 2.0
_RECOVERY = 0.1  # of the backoff factor, given back after each run of successes


class AdaptiveConcurrency:
    def __init__(self, cap: int | None = None) -> None:
        if cap is not None and cap < 1:
            raise ValueError("cap must be at least 1")
        self.maximum = min(cap or MAX_IN_FLIGHT, MAX_IN_FLIGHT)
        self.limit = START if cap is None else self.maximum  # a cap given: what to start at
        self.in_flight = 0
        self.epoch = 0  # bumped at each decrease
        self.rate_per_s: float | None = None
        self.hold_s = INITIAL_HOLD_S
        self._backoff = 1.0
        self._slow_start = True
        self._successes = 0
        self._calling = 0  # slots whose call is under way, and of them, those the provider
        self._answering = 0  # is answering: the others wait
        self._busy_s = 0.0  # since the last measurement: busy slot-seconds, slots given back
        self._released = 0
        self._ticked = self._measured = time.monotonic()
        self._changed = asyncio.Condition()
        self._waking: asyncio.Task[None] | None = None

    async def acquire(self) -> None:
        """Take one of the `limit` slots; waits while they are all taken.

        The holder gives it back with `release`: a job's writer does, once the call's result
        is stored, so a worker killed at any moment leaves at most one call per slot to redo.
        """
        async with self._changed:
            await self._changed.wait_for(lambda: self.in_flight < self.limit)
            self._tick()
            self.in_flight += 1

    async def release(self) -> None:
        async with self._changed:
            self._tick()
            self.in_flight -= 1
            self._released += 1
            window = max(MEASURE_S, self.hold_s)
            if self._released >= HOLD_UPDATE and self._ticked - self._measured >= window:
                self.hold_s = max(0.001, self._busy_s / self._released)
                self._busy_s = 0.0
                self._released = 0
                self._measured = self._ticked
                self._follow_rate()
            self._changed.notify(max(1, self.limit - self.in_flight))

    @property
    def full(self) -> bool:
        """Every slot is taken: a call may be waiting for one."""
        return self.in_flight >= self.limit

    def follow(self, rate_per_s: float | None) -> None:
        """The judge's allowed calls per second (None: unknown); the limit follows it."""
        if rate_per_s == self.rate_per_s:
            return
        self.rate_per_s = rate_per_s
        self._follow_rate()

    def calling(self, change: int) -> None:
        """A call holding a slot began (+1) or ended (-1): until it ends, its slot is busy
        only while the provider answers it."""
        self._tick()
        self._calling += change

    def answering(self, change: int) -> None:
        """The provider began (+1) or finished (-1) answering an attempt of a call."""
        self._tick()
        self._answering += change

    def _tick(self) -> None:
        now = time.monotonic()
        busy = self.in_flight - self._calling + self._answering
        self._busy_s += max(0, busy) * (now - self._ticked)
        self._ticked = now

    def throttled(self, epoch: int) -> None:
        """A call started at `epoch` was refused (429/529): halve, once per episode."""
        if epoch != self.epoch:
            return
        self.epoch += 1
        self._successes = 0
        self._slow_start = False
        if self.rate_per_s is None:
            self.limit = max(1, self.limit // 2)
        else:
            self._backoff = max(self._backoff / 2, 1 / MAX_IN_FLIGHT)
            self._follow_rate()

    async def succeeded(self) -> None:
        """A call went through: after `limit` in a row, more slots."""
        self._successes += 1
        if self._successes < self.limit:
            return
        self._successes = 0
        if self.rate_per_s is not None:
            if self._backoff < 1.0:
                self._backoff = min(1.0, self._backoff + _RECOVERY)
                self._follow_rate()
        elif self.limit < self.maximum:
            grown = self.limit * 2 if self._slow_start else self.limit + 1
            self.limit = min(grown, self.maximum)
        async with self._changed:
            self._changed.notify(max(0, self.limit - self.in_flight))

    def _follow_rate(self) -> None:
        """Little's law: the slots the rate needs at the hold measured, backed off."""
        if self.rate_per_s is None:
            return
        needed = self.rate_per_s * self.hold_s * HEADROOM * self._backoff
        grown = self.limit
        self.limit = max(1, min(self.maximum, math.ceil(needed)))
        if self.limit > grown and self.in_flight >= grown:
            # Calls may be waiting for a slot, and only a release would wake them.
            self._waking = asyncio.get_running_loop().create_task(self._wake())

    async def _wake(self) -> None:
        async with self._changed:
            self._changed.notify(max(0, self.limit - self.in_flight))
