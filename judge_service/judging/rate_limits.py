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
limits win. With neither (many OpenAI-compatible servers send no headers), the budget probes
for the limit, in the same script so every process shares one probe: a rate of
`PROBE_START_RPM` that doubles each `PROBE_STEP_S` while callers queue for it, until the
first 429, which halves it at least. Each 429 episode (at most one cut a second) cuts the
rate by the share of the last two seconds' requests the provider accepted, times
`PROBE_SETTLE`: once its bucket is empty a provider accepts its limit and refuses the rest,
so the cut lands near the limit whatever the overshoot. A cut may fall short (the bucket
hid part of the overshoot, or a shared pause held requests back): the 429s go on, and so
do the cuts, one a second. After the first cut the rate grows by `PROBE_CREEP` each
`PROBE_CREEP_S` while callers queue for it, to find a limit that was raised. The rate that
results, configured, announced or probed, also sizes the calls a job keeps in flight
(`judging/concurrency.py`).

A judge of several endpoints (`endpoints` in its config) has a budget per endpoint, each
with its own limit, pauses and probe; `due` reads them all in one script, without spending,
so a call goes to the endpoint that would let it go soonest (`judging/endpoints.py`).

Without Redis (the embedded mode: one process) nothing is shared and nothing is enforced
here; the retry layer still waits out `retry-after` for the call that received it.
"""

import asyncio
import logging
import random
from collections.abc import Mapping, Sequence

import redis.asyncio

from judge_service.config import MAX_RETRY_WAIT_S
from judge_service.judging.rate_headers import announced_limits, pause_s
from judge_service.redis_clients import job_redis

log = logging.getLogger(__name__)
BURST_S = 1.0
PROBE_START_RPM = 3_600
PROBE_STEP_S = 1.0
PROBE_SETTLE = 0.95
PROBE_CREEP = 1.02
PROBE_CREEP_S = 2.0
PROBE_MIN_RPM = 6
PROBE_MAX_RPM = 1_000_000

# The probe's hash: its rate (`rpm`), when it last changed (`at`, microseconds) and was last
# cut (`cut`), and a ring of 8 seconds' requests sent (`s<i>`, by the second each falls due)
# and refused (`r<i>`, by the second the refusal came), second `t<i>`.
_RING = """
local function slot(key, sec)
  local i = sec % 8
  if tonumber(redis.call('HGET', key, 't' .. i)) ~= sec then
    redis.call('HSET', key, 't' .. i, sec, 's' .. i, 0, 'r' .. i, 0)
  end
  return i
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1e6 + tonumber(t[2])
"""

# KEYS: pause, requests bucket, tokens bucket, probe. ARGV: rpm (-1: probe), tpm (0: none),
# tokens, burst s, then the probe's start rpm, step s, creep, creep s, most rpm.
# Paused: returns {minus the pause's milliseconds, rpm}, nothing charged. Otherwise charges
# both buckets and returns {the milliseconds until that charge falls due (0: now), the rpm
# it was paced at}. Charging ahead is a reservation: callers queue in the order they asked
# and each sleeps once, where asking again after the next token would wake every waiter at
# each token. A probe grows only while callers keep half a burst reserved ahead: a rate
# nobody uses proves nothing.
_ACQUIRE = (
    _RING
    + """
local rpm = tonumber(ARGV[1])
local probing = rpm < 0
local at, cut
if probing then
  local p = redis.call('HMGET', KEYS[4], 'rpm', 'at', 'cut')
  rpm = tonumber(p[1]) or tonumber(ARGV[5])
  at = tonumber(p[2])
  cut = p[3]
  if not at then
    at = now
    redis.call('HSET', KEYS[4], 'rpm', rpm, 'at', at)
  end
end
local paused = redis.call('PTTL', KEYS[1])
if paused > 0 then return {-paused, rpm} end
local burst_s = tonumber(ARGV[4])
local wait = 0
local function gcra(key, per_minute, cost)
  if per_minute <= 0 then return 0 end
  local interval = 60e6 / per_minute
  local burst = math.max(per_minute * burst_s / 60, cost, 1)
  local tat = math.max(tonumber(redis.call('GET', key) or now), now)
  local new_tat = tat + cost * interval
  wait = math.max(wait, new_tat - burst * interval - now)
  local ttl = math.ceil((new_tat - now) / 1000) + 1000
  redis.call('SET', key, string.format('%.0f', new_tat), 'PX', ttl)
  return (new_tat - now) / (burst * interval)
end
local backlog = gcra(KEYS[2], rpm, 1)
gcra(KEYS[3], tonumber(ARGV[2]), tonumber(ARGV[3]))
if probing then
  local i = slot(KEYS[4], math.floor((now + wait) / 1e6))
  redis.call('HINCRBY', KEYS[4], 's' .. i, 1)
  local step = (cut and tonumber(ARGV[8]) or tonumber(ARGV[6])) * 1e6
  if backlog >= 0.5 and now - at >= step then
    local grown = math.min(rpm * (cut and tonumber(ARGV[7]) or 2), tonumber(ARGV[9]))
    redis.call('HSET', KEYS[4], 'rpm', string.format('%.3f', grown), 'at', now)
  end
  redis.call('PEXPIRE', KEYS[4], 3600000)
end
return {math.ceil(wait / 1000), rpm}
"""
)

# KEYS: probe. ARGV: settle, least rpm, start rpm. A 429 while probing: counted, and at
# most once a second the rate is cut to the share of the last two seconds' requests the
# provider accepted (half, when none were sent). The first cut after a doubling is at least
# to half, the rate of the step before: the 429s came late, so the share says too little.
# Returns the rpm.
_REFUSED = (
    _RING
    + """
local sec = math.floor(now / 1e6)
redis.call('HINCRBY', KEYS[1], 'r' .. slot(KEYS[1], sec), 1)
local p = redis.call('HMGET', KEYS[1], 'rpm', 'cut')
local rpm = tonumber(p[1])
if not rpm then return 0 end
if p[2] and now - tonumber(p[2]) < 1e6 then return rpm end
local sent, refused = 0, 0
for s = sec - 1, sec do
  local i = s % 8
  if tonumber(redis.call('HGET', KEYS[1], 't' .. i)) == s then
    sent = sent + tonumber(redis.call('HGET', KEYS[1], 's' .. i))
    refused = refused + tonumber(redis.call('HGET', KEYS[1], 'r' .. i))
  end
end
local accepted = 0.5
if sent > 0 then accepted = math.max(0, sent - refused) / sent end
local cut = rpm * accepted * tonumber(ARGV[1])
if not p[2] and rpm > tonumber(ARGV[3]) then cut = math.min(cut, rpm / 2) end
rpm = math.max(tonumber(ARGV[2]), cut)
redis.call('HSET', KEYS[1], 'rpm', string.format('%.3f', rpm), 'at', now, 'cut', now)
return rpm
"""
)

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

# KEYS: four per budget, as `_ACQUIRE` takes them. ARGV: five per budget: rpm (-1: probe),
# tpm, tokens, burst s, the probe's start rpm. Charges nothing; returns three integers per
# budget: the milliseconds a request would wait (its pause, or until the request is due),
# how full the bucket would be with it and what one request adds to that, in millionths of
# the bucket (the fuller of the two buckets).
_DUE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1e6 + tonumber(t[2])
local out = {}
for b = 0, #KEYS / 4 - 1 do
  local k, a = b * 4, b * 5
  local rpm = tonumber(ARGV[a + 1])
  if rpm < 0 then
    rpm = tonumber(redis.call('HGET', KEYS[k + 4], 'rpm')) or tonumber(ARGV[a + 5])
  end
  local burst_s = tonumber(ARGV[a + 4])
  local wait, fill, step = 0, 0, 0
  local function gcra(key, per_minute, cost)
    if per_minute <= 0 then return end
    local interval = 60e6 / per_minute
    local burst = math.max(per_minute * burst_s / 60, cost, 1)
    local tat = math.max(tonumber(redis.call('GET', key) or now), now)
    local new_tat = tat + cost * interval
    wait = math.max(wait, new_tat - burst * interval - now)
    local full = (new_tat - now) / (burst * interval)
    if full > fill then fill, step = full, cost / burst end
  end
  gcra(KEYS[k + 2], rpm, 1)
  gcra(KEYS[k + 3], tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3]))
  local paused = redis.call('PTTL', KEYS[k + 1])
  out[#out + 1] = math.max(math.ceil(wait / 1000), paused, 0)
  out[#out + 1] = math.floor(fill * 1e6)
  out[#out + 1] = math.ceil(step * 1e6)
end
return out
"""

# KEYS: pause. ARGV: milliseconds. A pause is only ever lengthened.
_PAUSE = """
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
end
return 0
"""


def budget_key(namespace: str, judge: str, what: str, endpoint: str | None = None) -> str:
    """A judge's `pause`, `requests`, `tokens` or `probe` key (per queue, as the 429 counts
    are); one endpoint's of a judge with several. A judge of one endpoint keeps the keys
    judges had before they could have several, so a running deployment keeps its budgets."""
    owner = judge if endpoint is None else f"{judge}@{endpoint}"
    return f"judge:{namespace}:rate:{owner}:{what}"


class JudgeBudget:
    """One judge's shared budget: wait for a request to fit, correct its tokens, pause."""

    def __init__(
        self,
        client: redis.asyncio.Redis | None,
        namespace: str,
        judge: str,
        rpm_limit: int | None,
        tpm_limit: int | None,
        endpoint: str | None = None,
    ) -> None:
        self._client = client
        self._judge = judge
        self._rpm_limit = rpm_limit
        self._tpm_limit = tpm_limit
        self._rpm = rpm_limit or 0  # 0: none known, configured or learned
        self._tpm = tpm_limit or 0
        self._tokens_per_call: float | None = None  # the replies' mean, once one is settled
        self._probed_rpm: float | None = None  # the shared probe's rate, as last read
        self._keys = [
            budget_key(namespace, judge, what, endpoint)
            for what in ("pause", "requests", "tokens", "probe")
        ]

    @property
    def probing(self) -> bool:
        """No limit configured or announced: the shared budget looks for one."""
        return self._client is not None and not self._rpm and not self._tpm

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
                    due_ms, rpm = await self._client.eval(
                        _ACQUIRE, 4, *self._keys, *self._acquire_args(tokens)
                    )
                    if self.probing:
                        self._probed_rpm = float(rpm)
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

    def _acquire_args(self, tokens: int) -> tuple[float, ...]:
        rpm = -1 if self.probing else self._rpm
        probe = (PROBE_START_RPM, PROBE_STEP_S, PROBE_CREEP, PROBE_CREEP_S, PROBE_MAX_RPM)
        return (rpm, self._tpm, tokens, BURST_S, *probe)

    @property
    def rpm(self) -> float | None:
        """The requests per minute the budget paces at (configured, announced or probed)."""
        return self._rpm or (self._probed_rpm if self.probing else None) or None

    def calls_per_s(self, tokens: int) -> float | None:
        """The calls a second the limits let through, at `tokens` a call until replies tell
        the real cost; None when no limit is known."""
        rates = []
        if self._rpm:
            rates.append(self._rpm / 60)
        if self._tpm:
            rates.append(self._tpm / 60 / max(1.0, self._tokens_per_call or tokens))
        if self.probing and self._probed_rpm:
            rates.append(self._probed_rpm / 60)
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

    async def observe(self, status: int, headers: Mapping[str, str]) -> None:
        """Every response of the judge: its announced limits learned, a probe's 429 counted,
        and the pause its headers ask for shared."""
        self.learn(headers)
        if status == 429 and self.probing:
            assert self._client is not None
            try:
                rpm = await self._client.eval(
                    _REFUSED, 1, self._keys[3], PROBE_SETTLE, PROBE_MIN_RPM, PROBE_START_RPM
                )
            except Exception as exc:
                log.warning("refusal not counted: %r", exc, extra={"judge": self._judge})
            else:
                self._probed_rpm = float(rpm) or self._probed_rpm
        await self.pause(pause_s(status, headers) or 0.0)

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


async def due(budgets: Sequence[JudgeBudget], tokens: int) -> list[tuple[int, float, float]]:
    """Per budget, what a request of `tokens` would find, spending nothing: (milliseconds it
    would wait, how full the bucket would be with it, what one request adds to that; in
    buckets). All zeros without Redis, or when Redis does not answer: nothing to tell."""
    client = budgets[0]._client if budgets else None
    if client is None:
        return [(0, 0.0, 0.0)] * len(budgets)
    keys = [key for budget in budgets for key in budget._keys]
    args = [arg for budget in budgets for arg in budget._acquire_args(tokens)[:5]]
    try:
        flat = await client.eval(_DUE, len(keys), *keys, *args)
    except Exception as exc:  # whatever Redis does, the judge call goes on
        log.warning("rate budgets not compared: %r", exc)
        return [(0, 0.0, 0.0)] * len(budgets)
    return [(int(flat[i]), flat[i + 1] / 1e6, flat[i + 2] / 1e6) for i in range(0, len(flat), 3)]


class RateBudgets:
    """The budgets of one job's judges over one Redis connection, made in the job's loop."""

    def __init__(self, redis_url: str | None, namespace: str) -> None:
        self._namespace = namespace
        self._client = job_redis(redis_url) if redis_url else None

    def for_judge(
        self,
        judge: str,
        rpm_limit: int | None,
        tpm_limit: int | None,
        endpoint: str | None = None,
    ) -> JudgeBudget:
        """The judge's budget; one endpoint's (by its label) for a judge of several."""
        return JudgeBudget(self._client, self._namespace, judge, rpm_limit, tpm_limit, endpoint)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
