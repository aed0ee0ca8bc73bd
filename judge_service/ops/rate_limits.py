"""Each judge's requests and tokens per minute, and its pauses, shared through Redis.

A provider's limit belongs to its key, not to a worker: every process on every machine
judging with that key must draw from one budget, so the budget lives in Redis and is
checked and spent in one Lua script (atomic; the clock is Redis's `TIME`, one clock for
every machine). The `limits` package was the other choice: its Redis extra pins
redis-py below 8 (ours is 8), and its window strategies let a whole window's quota go out
at once, a burst providers refuse; hence this small script.

The script is GCRA (a token bucket kept as one timestamp per budget): each request reserves
the moment the bucket will hold its cost and sleeps until then, the bucket refilling
continuously at the configured rate and holding at most `BURST_S` seconds of it (at least
one request's cost). One second is
half the burst real providers (and the simulator) tolerate, so requests are paced
smoothly and the provider's own bucket never runs dry.

A pause (a provider's `retry-after`, or a reset it announced when its remaining quota hit
zero) is a key with that expiry: every acquire of that judge, everywhere, waits it out.

A judge given no `rpm_limit` (or `tpm_limit`) takes the one its provider announces in its
rate-limit headers, learned by every process from the responses it reads; the configured
limits win. The rate that results also sizes the calls a job keeps in flight
(`judging/concurrency.py`).

Without Redis (the embedded mode: one process) nothing is shared and nothing is enforced
here; the retry layer still waits out `retry-after` for the call that received it.
"""

import asyncio
import logging
import random
from collections.abc import Mapping

import redis.asyncio

from judge_service.config import MAX_RETRY_WAIT_S
from judge_service.judging.rate_headers import announced_limits
from judge_service.redis_clients import job_redis

log = logging.getLogger(__name__)
BURST_S = 1.0

# KEYS: pause, requests bucket, tokens bucket. ARGV: rpm, tpm (0: none), tokens, burst s.
# Paused: returns minus the pause's milliseconds, nothing charged. Otherwise charges both
# buckets and returns the milliseconds until that charge falls due (0: now). Charging
# ahead is a reservation: callers queue in the order they asked and each sleeps once,
# where asking again after the next token would wake every waiter at each token.
_ACQUIRE = """
local paused = redis.call('PTTL', KEYS[1])
if paused > 0 then return -paused end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1e6 + tonumber(t[2])
local burst_s = tonumber(ARGV[4])
local wait = 0
local function gcra(key, per_minute, cost)
  if per_minute <= 0 then return end
  local interval = 60e6 / per_minute
  local burst = math.max(per_minute * burst_s / 60, cost, 1)
  local tat = math.max(tonumber(redis.call('GET', key) or now), now)
  local new_tat = tat + cost * interval
  wait = math.max(wait, new_tat - burst * interval - now)
  local ttl = math.ceil((new_tat - now) / 1000) + 1000
  redis.call('SET', key, string.format('%.0f', new_tat), 'PX', ttl)
end
gcra(KEYS[2], tonumber(ARGV[1]), 1)
gcra(KEYS[3], tonumber(ARGV[2]), tonumber(ARGV[3]))
if wait > 0 then return math.ceil(wait / 1000) end
return 0
"""

# KEYS: tokens bucket. ARGV: tpm, tokens to add (negative: give back). Only while it lives.
_SETTLE = """
local tat = tonumber(redis.call('GET', KEYS[1]))
if not tat then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1e6 + tonumber(t[2])
tat = math.max(tat + tonumber(ARGV[2]) * 60e6 / tonumber(ARGV[1]), now)
redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000) + 1000)
return 1
"""

# KEYS: pause. ARGV: milliseconds. A pause is only ever lengthened.
_PAUSE = """
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
end
return 0
"""


def budget_key(namespace: str, judge: str, what: str) -> str:
    """A judge's `pause`, `requests` or `tokens` key (per queue, as the 429 counts are)."""
    return f"judge:{namespace}:rate:{judge}:{what}"


class JudgeBudget:
    """One judge's shared budget: wait for a request to fit, correct its tokens, pause."""

    def __init__(
        self,
        client: redis.asyncio.Redis | None,
        namespace: str,
        judge: str,
        rpm_limit: int | None,
        tpm_limit: int | None,
    ) -> None:
        self._client = client
        self._judge = judge
        self._rpm_limit = rpm_limit
        self._tpm_limit = tpm_limit
        self._rpm = rpm_limit or 0  # 0: none known, configured or learned
        self._tpm = tpm_limit or 0
        self._tokens_per_call: float | None = None  # the replies' mean, once one is settled
        self._keys = [
            budget_key(namespace, judge, what) for what in ("pause", "requests", "tokens")
        ]

    async def acquire(self, tokens: int) -> float:
        """Wait until the judge is not paused and a request of `tokens` is due; seconds waited.

        A reservation made before a pause began is still held by it: after its sleep the
        caller looks for a pause once more. Redis unreachable: the call goes ahead.
        """
        if self._client is None:
            return 0.0
        waited = 0.0
        reserved = False
        while True:
            try:
                if reserved:
                    due_ms = -max(0, await self._client.pttl(self._keys[0]))
                else:
                    due_ms = await self._client.eval(
                        _ACQUIRE, 3, *self._keys, self._rpm, self._tpm, tokens, BURST_S
                    )
            except Exception as exc:  # whatever Redis does, the judge call goes on
                log.warning("rate budget not checked: %r", exc, extra={"judge": self._judge})
                return waited
            if due_ms == 0:
                return waited
            reserved = reserved or due_ms > 0
            # A pause ends for every waiter at once: a little jitter spreads their return.
            delay = abs(due_ms) / 1000 + (random.uniform(0, 0.05) if due_ms < 0 else 0.0)
            await asyncio.sleep(delay)
            waited += delay

    def calls_per_s(self, tokens: int) -> float | None:
        """The calls a second the limits let through, at `tokens` a call until replies tell
        the real cost; None when no limit is known."""
        rates = []
        if self._rpm:
            rates.append(self._rpm / 60)
        if self._tpm:
            rates.append(self._tpm / 60 / max(1.0, self._tokens_per_call or tokens))
        return min(rates) if rates else None

    def learn(self, headers: Mapping[str, str]) -> None:
        """Take the limits the provider announces for those not configured."""
        rpm, tpm = announced_limits(headers)
        if rpm and not self._rpm_limit:
            self._rpm = rpm
        if tpm and not self._tpm_limit:
            self._tpm = tpm

    async def settle(self, estimated: int, actual: int | None) -> None:
        """Charge the tokens a reply really used instead of the estimate acquired with."""
        if actual is not None:
            mean = self._tokens_per_call
            self._tokens_per_call = actual if mean is None else 0.9 * mean + 0.1 * actual
        if self._client is None or not self._tpm or actual is None or actual == estimated:
            return
        try:
            await self._client.eval(_SETTLE, 1, self._keys[2], self._tpm, actual - estimated)
        except Exception as exc:
            log.warning("tokens not settled: %r", exc, extra={"judge": self._judge})

    async def pause(self, seconds: float, headers: Mapping[str, str] | None = None) -> None:
        """Make every process wait `seconds` (at most `MAX_RETRY_WAIT_S`) before the next call;
        and learn the limits announced in the response's `headers`, when given."""
        if headers is not None:
            self.learn(headers)
        if self._client is None or seconds <= 0:
            return
        millis = max(1, round(min(seconds, MAX_RETRY_WAIT_S) * 1000))
        try:
            await self._client.eval(_PAUSE, 1, self._keys[0], millis)
        except Exception as exc:
            log.warning("pause not shared: %r", exc, extra={"judge": self._judge})
        else:
            log.info("judge paused for %.1f s", millis / 1000, extra={"judge": self._judge})


class RateBudgets:
    """The budgets of one job's judges over one Redis connection, made in the job's loop."""

    def __init__(self, redis_url: str | None, namespace: str) -> None:
        self._namespace = namespace
        self._client = job_redis(redis_url) if redis_url else None

    def for_judge(self, judge: str, rpm_limit: int | None, tpm_limit: int | None) -> JudgeBudget:
        return JudgeBudget(self._client, self._namespace, judge, rpm_limit, tpm_limit)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
