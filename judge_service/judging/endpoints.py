"""A judge's endpoints (replicas): which one takes the next attempt, and which are down.

A judge may list several endpoints (`endpoints` in its config: two vLLM replicas, two
provider keys with limits of their own). Each has its own client and its own shared rate
budget. An attempt goes to the live endpoint whose budget would let it go soonest: the
least waiting, then the emptiest bucket (as full as it would be with the attempts this job
has chosen it for and not yet charged), so calls spread in proportion to the endpoints'
rates whether or not they are saturated; exact ties rotate.

An endpoint that refuses connections, times out or answers a 5xx other than 529
(`providers.endpoint_down`) is down for a cooldown, `COOLDOWN_S` doubling with each failure
in a row up to `COOLDOWN_MAX_S`; afterwards one trial attempt at a time goes to it until one
succeeds. A failure of an attempt that began before the endpoint was last marked down adds
nothing: the outage was already known. When every endpoint is down, the one whose cooldown
ends first is tried: the retry layer's ordinary backoff and failure then apply.

Health is the job's own (each job learns an outage from its first failed attempt, one
connection error, and at most one attempt of each later job): sharing it through Redis would
cost a round trip per attempt to save one refused connection per job.
"""

import itertools
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from judge_service.judging.providers import JudgeProvider, endpoint_down
from judge_service.judging.rate_limits import JudgeBudget, due
from judge_service.judging.throttling import ThrottleCounter

log = logging.getLogger(__name__)
COOLDOWN_S = 1.0
COOLDOWN_MAX_S = 30.0


@dataclass(eq=False)
class Endpoint:
    """One replica of a judge: its client, its budget, and what this job knows of its health."""

    label: str  # host:port, never the key (`JudgeConfig.endpoint_labels`)
    provider: JudgeProvider
    budget: JudgeBudget
    strikes: int = 0  # down episodes in a row, ended by a success
    marked_at: float = -1.0  # monotonic: when last marked down
    down_until: float = 0.0
    trying: bool = False  # a trial attempt after the cooldown is under way
    chosen: int = 0  # attempts sent its way whose budget is not charged yet

    def live(self, now: float) -> bool:
        """Not cooling down, and not already being tried after a cooldown."""
        return now >= self.down_until and not (self.strikes and self.trying)


class EndpointPool:
    """The endpoints of one judge inside one job."""

    def __init__(
        self, judge: str, endpoints: Sequence[Endpoint], counter: ThrottleCounter | None = None
    ) -> None:
        if not endpoints:
            raise ValueError("a judge needs at least one endpoint")
        self.judge = judge
        self.endpoints = list(endpoints)
        self._counter = counter
        self._turn = itertools.count()

    async def choose(self, tokens: int, tried: Sequence[Endpoint]) -> Endpoint | None:
        """The endpoint for an attempt of `tokens`, none of `tried`; None when no other is
        live. With none tried and none live: the one back soonest."""
        now = time.monotonic()
        candidates = [e for e in self.endpoints if e not in tried and e.live(now)]
        if not candidates:
            if tried:
                return None
            candidates = [min(self.endpoints, key=lambda e: e.down_until)]
        chosen = candidates[0]
        if len(candidates) > 1:
            figures = await due([e.budget for e in candidates], tokens)
            # Another call may have taken an endpoint's one trial, or found it down, meanwhile.
            now = time.monotonic()
            scores = {
                e: (wait_ms, round(fill + e.chosen * step, 6))
                for e, (wait_ms, fill, step) in zip(candidates, figures, strict=True)
                if e.live(now)
            } or {candidates[0]: (0, 0.0)}
            best = min(scores.values())
            tied = [e for e, score in scores.items() if score == best]
            chosen = tied[next(self._turn) % len(tied)]
        if chosen.strikes:
            chosen.trying = True
        chosen.chosen += 1
        self._report()
        return chosen

    def calls_per_s(self, tokens: int) -> float | None:
        """The calls a second the live endpoints' budgets allow together (all of them when
        none is live); None when none of them knows its rate."""
        now = time.monotonic()
        live = [e for e in self.endpoints if now >= e.down_until] or self.endpoints
        rates = [rate for e in live if (rate := e.budget.calls_per_s(tokens)) is not None]
        return sum(rates) if rates else None

    async def acquire(self, endpoint: Endpoint, tokens: int) -> None:
        """Wait for the attempt's turn in the endpoint's budget; then it goes out."""
        try:
            await endpoint.budget.acquire(tokens)
        finally:
            endpoint.chosen -= 1
        self._count(endpoint, "calls")

    def answered(self, endpoint: Endpoint, started: float) -> None:
        """An attempt begun at `started` (monotonic) was answered, whatever the answer: the
        endpoint is up."""
        if started < endpoint.marked_at:
            return
        if endpoint.strikes:
            log.info(
                "judge endpoint %s is back",
                endpoint.label,
                extra={"judge": self.judge, "endpoint": endpoint.label},
            )
        endpoint.strikes = 0
        endpoint.trying = False
        self._report()

    def failed(self, endpoint: Endpoint, started: float, exc: BaseException, kind: str) -> bool:
        """An attempt begun at `started` failed with `exc` (of error `kind`); whether that
        says the endpoint is down (its calls then go to the others)."""
        self._count(endpoint, f"error:{kind}")
        if not endpoint_down(exc):
            self.answered(endpoint, started)
            return False
        now = time.monotonic()
        if started >= endpoint.marked_at and now >= endpoint.down_until:
            endpoint.strikes += 1
            endpoint.trying = False
            cooldown = min(COOLDOWN_MAX_S, COOLDOWN_S * 2 ** (endpoint.strikes - 1))
            endpoint.marked_at = now
            endpoint.down_until = now + cooldown
            log.warning(
                "judge endpoint %s is down for %.0f s: %s",
                endpoint.label,
                cooldown,
                kind,
                extra={"judge": self.judge, "endpoint": endpoint.label},
            )
            self._report()
        return True

    def _count(self, endpoint: Endpoint, what: str) -> None:
        if self._counter is not None:
            self._counter.count(self.judge, endpoint.label, what)

    def _report(self) -> None:
        """Each endpoint's rate and whether it is up, for `/metrics`."""
        if self._counter is None:
            return
        for e in self.endpoints:
            self._counter.state(self.judge, e.label, e.budget.rpm, not e.strikes)

    async def aclose(self) -> None:
        for endpoint in self.endpoints:
            await endpoint.provider.aclose()
