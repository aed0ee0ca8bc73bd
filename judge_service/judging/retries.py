"""The one retry layer of live judge calls (the SDKs are built with `max_retries=0`).

Ours rather than the SDK's so that every attempt, the retries included, goes through the
judge's shared rate budget and waits out a pause another process was told about. The
retryable set is the SDKs' own: 408, 409, 429, every 5xx (529 included), timeouts and
dropped connections. Waits are jittered exponential (0.5 s doubling, capped at
`BACKOFF_MAX_S`), or the provider's `retry-after` when longer (capped at `MAX_RETRY_WAIT_S`).
A call makes at most `max_retries + 1` attempts, then raises what the last one raised; a 429
does not count against them, up to `MAX_REFUSALS`: it says "not now", not "not this call",
and a judge's shared budget (`judging/rate_limits.py`), above all one probing for an unknown
limit, can draw a few in a row for one call while the rest go through.
"""

from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import anthropic
import openai
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    wait_exponential,
    wait_random,
)

from judge_service.config import MAX_RETRY_WAIT_S
from judge_service.judging.rate_headers import retry_after_s

T = TypeVar("T")
BACKOFF_MAX_S = 8.0
MAX_REFUSALS = 3
_JITTER_S = 0.5
_backoff = wait_exponential(multiplier=0.5, max=BACKOFF_MAX_S - _JITTER_S) + wait_random(
    0, _JITTER_S
)


def is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, openai.APIStatusError | anthropic.APIStatusError):
        return exc.status_code in (408, 409, 429) or exc.status_code >= 500
    return isinstance(exc, openai.APIConnectionError | anthropic.APIConnectionError)


def _wait(state: RetryCallState) -> float:
    """The backoff, or the provider's `retry-after` when it asks for longer."""
    backoff = _backoff(state)
    exc = state.outcome.exception() if state.outcome else None
    if isinstance(exc, openai.APIStatusError | anthropic.APIStatusError):
        asked = retry_after_s(exc.response.headers)
        if asked is not None:
            return max(backoff, min(asked, MAX_RETRY_WAIT_S))
    return backoff


def _is_refusal(exc: BaseException) -> bool:
    return isinstance(exc, openai.APIStatusError | anthropic.APIStatusError) and (
        exc.status_code == 429
    )


class _Attempts(Generic[T]):
    """One call's attempts, its 429s counted apart from its other failures."""

    def __init__(self, attempt: Callable[[], Awaitable[T]], max_retries: int) -> None:
        self._attempt = attempt
        self._max_retries = max_retries
        self._refusals = 0

    async def __call__(self) -> T:
        try:
            return await self._attempt()
        except Exception as exc:
            if _is_refusal(exc):
                self._refusals += 1
            raise

    def spent(self, state: RetryCallState) -> bool:
        failures = state.attempt_number - min(self._refusals, MAX_REFUSALS)
        return failures > self._max_retries


async def with_retries(attempt: Callable[[], Awaitable[T]], max_retries: int) -> T:
    """`attempt()`, retried up to `max_retries` times (429s apart) while it fails in a
    retryable way."""
    attempts = _Attempts(attempt, max_retries)
    retrying = AsyncRetrying(
        stop=attempts.spent,
        retry=retry_if_exception(is_retryable),
        wait=_wait,
        reraise=True,
    )
    return await retrying(attempts)
