"""Redis clients whose waits are bounded, so an unreachable Redis is an answer, not a hang.

redis-py before 8 waits as long as the operating system lets a connect hang (minutes for a
host that drops packets); 8.x bounds it at 5 s, and its `Redis(...)` constructor retries ten
times. The bounds here are explicit, whichever version the pin resolves to: enqueueing gets a
connect timeout; probes (readiness, metrics, the rate limit, provider response counts) make
one attempt of at most `PROBE_TIMEOUT_S`.
"""

from typing import Any

import redis.asyncio
from redis import Redis

CONNECT_TIMEOUT_S = 5.0
PROBE_TIMEOUT_S = 2.0
# Connections a job's asyncio client opens; more calls at once wait for one (at most a probe's
# timeout) instead of failing, as hundreds of calls in flight would with a bounded pool.
JOB_CONNECTIONS = 8
# `retry=None`: one attempt. Shared by the sync and asyncio clients.
PROBE_OPTIONS: dict[str, Any] = {
    "socket_connect_timeout": PROBE_TIMEOUT_S,
    "socket_timeout": PROBE_TIMEOUT_S,
    "retry": None,
}


def queue_redis(url: str) -> Redis:
    """For enqueueing jobs: retried on errors, each connect attempt bounded."""
    return Redis.from_url(url, socket_connect_timeout=CONNECT_TIMEOUT_S)


def probe_redis(url: str) -> Redis:
    """For checks that must answer within seconds: one attempt, connect and reply bounded."""
    return Redis.from_url(url, **PROBE_OPTIONS)


def job_redis(url: str) -> redis.asyncio.Redis:
    """For a job's many concurrent calls (rate budgets, 429 counts): probes that share a few
    connections and queue for them."""
    pool = redis.asyncio.BlockingConnectionPool.from_url(
        url, max_connections=JOB_CONNECTIONS, timeout=PROBE_TIMEOUT_S, **PROBE_OPTIONS
    )
    return redis.asyncio.Redis(connection_pool=pool)
