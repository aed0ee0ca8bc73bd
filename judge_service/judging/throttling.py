"""The providers' 429 (rate limited) and 529 (overloaded) responses, counted per judge.

Our retry layer (`judging/retries.py`) retries these, so no judgment row shows them; they are
counted where every response passes, a response hook on the SDK's HTTP client. Workers may
run on many machines, so with Redis each one is an HINCRBY on one hash per status (named
after the queue, so deployments sharing a Redis keep apart), which `/metrics` reads; without
Redis (the embedded mode: jobs on the API's threads) the counts live in this process.

Counting never fails a judge call: only 429s and 529s touch Redis, with one bounded attempt
(`redis_clients.PROBE_TIMEOUT_S`), and an error drops that count with a warning.

The same hook hands every response to the judge's budget (`judging/rate_limits.py`): a
`retry-after`, or a quota reported spent until its reset, becomes a pause every worker
waits out; the limits announced become the budget when none is configured; and a 429 tells
a budget that is probing for its limit where the limit is.

Per endpoint of each judge (`judging/endpoints.py`) the job also counts the attempts sent,
the errors by kind and the 429s and 529s, and keeps each endpoint's rate and health. Those
are counted in the job and written at most once every `FLUSH_S` seconds (and when the job
ends), one pipelined write: a write per call would cost a round trip per judgment. The
endpoints' states (rate, up) are a hash that expires `STATE_TTL_S` after the last write,
so a judge nobody calls any more leaves `/metrics`.
"""

import asyncio
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping

from redis import Redis

from judge_service.judging.rate_headers import THROTTLED, ResponseHook, StatusResponse
from judge_service.redis_clients import job_redis

log = logging.getLogger(__name__)

FLUSH_S = 1.0
STATE_TTL_S = 300
# (judge, endpoint label, what): "calls", "error:<kind>" or "throttled:<status>".
EndpointCount = tuple[str, str, str]
# An endpoint's requests per minute (None: not known) and whether it is up.
EndpointState = tuple[float | None, bool]

# The embedded mode's counts: (queue name, judge, status) -> responses; and per endpoint.
_local: Counter[tuple[str, str, int]] = Counter()
_local_endpoints: Counter[tuple[str, EndpointCount]] = Counter()
_local_states: dict[tuple[str, str, str], EndpointState] = {}
_local_lock = threading.Lock()


def counts_key(namespace: str, status: int) -> str:
    """The Redis hash of one status's counts, judge name -> responses."""
    return f"judge:{namespace}:provider_responses:{status}"


def endpoint_counts_key(namespace: str) -> str:
    """The Redis hash of the endpoints' counts, JSON [judge, endpoint, what] -> count."""
    return f"judge:{namespace}:endpoint_counts"


def endpoint_states_key(namespace: str) -> str:
    """The Redis hash of the endpoints' states, JSON [judge, endpoint] -> JSON [rpm, up]."""
    return f"judge:{namespace}:endpoint_states"


class ThrottleCounter:
    """Where one job counts its refusals; made and closed inside the job's event loop."""

    def __init__(self, redis_url: str | None, namespace: str) -> None:
        self._namespace = namespace
        self._redis = job_redis(redis_url) if redis_url else None
        self._counts: Counter[EndpointCount] = Counter()
        self._states: dict[tuple[str, str], EndpointState] = {}
        self._flushed = time.monotonic()
        self._flushing: asyncio.Task[None] | None = None

    def hook(
        self,
        judge: str,
        observe: Callable[[int, Mapping[str, str]], Awaitable[None]] | None = None,
        endpoint: str | None = None,
    ) -> ResponseHook:
        """A response hook for `judge`'s client (of its `endpoint`, when given): counts its
        429s and 529s, and passes every response's status and headers to `observe` (the
        budget)."""

        async def on_response(response: StatusResponse) -> None:
            if response.status_code in THROTTLED:
                await self._add(judge, response.status_code)
                if endpoint is not None:
                    self.count(judge, endpoint, f"throttled:{response.status_code}")
            if observe is not None:
                await observe(response.status_code, response.headers)

        return on_response

    def count(self, judge: str, endpoint: str, what: str) -> None:
        """One more of `what` at a judge's endpoint; written within `FLUSH_S`."""
        self._counts[judge, endpoint, what] += 1
        self._flush_soon()

    def state(self, judge: str, endpoint: str, rpm: float | None, up: bool) -> None:
        """An endpoint's current rate (requests per minute) and health; written within
        `FLUSH_S`."""
        self._states[judge, endpoint] = (rpm, up)
        self._flush_soon()

    def _flush_soon(self) -> None:
        due = time.monotonic() - self._flushed >= FLUSH_S
        if due and (self._flushing is None or self._flushing.done()):
            self._flushing = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        self._flushed = time.monotonic()
        counts, self._counts = self._counts, Counter()
        states, self._states = self._states, {}
        if not counts and not states:
            return
        if self._redis is None:
            with _local_lock:
                _local_endpoints.update({(self._namespace, k): n for k, n in counts.items()})
                for (judge, endpoint), value in states.items():
                    _local_states[self._namespace, judge, endpoint] = value
            return
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for count_key, n in counts.items():
                    pipe.hincrby(endpoint_counts_key(self._namespace), json.dumps(count_key), n)
                for state_key, value in states.items():
                    pipe.hset(
                        endpoint_states_key(self._namespace),
                        json.dumps(state_key),
                        json.dumps(value),
                    )
                if states:
                    pipe.expire(endpoint_states_key(self._namespace), STATE_TTL_S)
                await pipe.execute()
        except Exception as exc:  # whatever Redis does, the judge calls go on
            log.warning("endpoint figures not counted: %r", exc)

    async def _add(self, judge: str, status: int) -> None:
        if self._redis is None:
            with _local_lock:
                _local[self._namespace, judge, status] += 1
            return
        try:
            await self._redis.hincrby(counts_key(self._namespace, status), judge, 1)
        except Exception as exc:  # whatever Redis does, the judge call goes on
            log.warning("HTTP %d not counted: %r", status, exc, extra={"judge": judge})

    async def aclose(self) -> None:
        """Write what is left, then close."""
        if self._flushing is not None:
            await self._flushing
        await self._flush()
        if self._redis is not None:
            await self._redis.aclose()


def throttled_counts(redis_client: Redis | None, namespace: str) -> dict[tuple[str, int], int]:
    """Every judge's 429s and 529s so far, by (judge, status)."""
    if redis_client is None:
        with _local_lock:
            return {(j, s): n for (ns, j, s), n in _local.items() if ns == namespace}
    with redis_client.pipeline(transaction=False) as pipe:
        for status in THROTTLED:
            pipe.hgetall(counts_key(namespace, status))
        hashes = pipe.execute()
    return {
        (judge.decode(), status): int(count)
        for status, counts in zip(THROTTLED, hashes, strict=True)
        for judge, count in counts.items()
    }


def endpoint_figures(
    redis_client: Redis | None, namespace: str
) -> tuple[dict[EndpointCount, int], dict[tuple[str, str], EndpointState]]:
    """Every judge endpoint's counts so far, and its last reported state."""
    if redis_client is None:
        with _local_lock:
            counts = {key: n for (ns, key), n in _local_endpoints.items() if ns == namespace}
            states = {(j, e): v for (ns, j, e), v in _local_states.items() if ns == namespace}
        return counts, states
    with redis_client.pipeline(transaction=False) as pipe:
        pipe.hgetall(endpoint_counts_key(namespace))
        pipe.hgetall(endpoint_states_key(namespace))
        raw_counts, raw_states = pipe.execute()
    figures = {}
    for field, count in raw_counts.items():
        judge, endpoint, what = json.loads(field)
        figures[judge, endpoint, what] = int(count)
    known = {}
    for field, value in raw_states.items():
        judge, endpoint = json.loads(field)
        rpm, up = json.loads(value)
        known[judge, endpoint] = (rpm, bool(up))
    return figures, known
