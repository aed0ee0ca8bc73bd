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
"""

import logging
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping

from redis import Redis

from judge_service.judging.rate_headers import THROTTLED, ResponseHook, StatusResponse
from judge_service.redis_clients import job_redis

log = logging.getLogger(__name__)

# The embedded mode's counts: (queue name, judge, status) -> responses.
_local: Counter[tuple[str, str, int]] = Counter()
_local_lock = threading.Lock()


def counts_key(namespace: str, status: int) -> str:
    """The Redis hash of one status's counts, judge name -> responses."""
    return f"judge:{namespace}:provider_responses:{status}"


class ThrottleCounter:
    """Where one job counts its refusals; made and closed inside the job's event loop."""

    def __init__(self, redis_url: str | None, namespace: str) -> None:
        self._namespace = namespace
        self._redis = job_redis(redis_url) if redis_url else None

    def hook(
        self,
        judge: str,
        observe: Callable[[int, Mapping[str, str]], Awaitable[None]] | None = None,
    ) -> ResponseHook:
        """A response hook for `judge`'s client: counts its 429s and 529s, and passes every
        response's status and headers to `observe` (the judge's budget)."""

        async def on_response(response: StatusResponse) -> None:
            if response.status_code in THROTTLED:
                await self._add(judge, response.status_code)
            if observe is not None:
                await observe(response.status_code, response.headers)

        return on_response

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
