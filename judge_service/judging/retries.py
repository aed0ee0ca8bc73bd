"""The one retry layer of live judge calls (the SDKs are built with `max_retries=0`).

Ours rather than the SDK's so that every attempt, the retries included, goes through the
judge's shared rate budget and waits out a pause another process was told about. The
retryable set is the SDKs' own: 408, 409, 429, every 5xx (529 included), timeouts and
dropped connections. Waits are jittered exponential (0.5 s doubling, capped at
`BACKOFF_MAX_S`), or the provider's `retry-after` when longer (capped at `MAX_RETRY_WAIT_S`).
A call makes at most `max_retries + 1` attempts, then raises what the last one raised.
"""

from collections.abc import Awaitable, Callable
from typing import TypeVar

import anthropic
import openai
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from judge_service.config import MAX_RETRY_WAIT_S
from judge_service.judging.rate_headers import retry_after_s

T = TypeVar("T")
BACKOFF_MAX_S = 8.0
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


async def with_retries(attempt: Callable[[], Awaitable[T]], max_retries: int) -> T:
    """`attempt()`, retried up to `max_retries` times while it fails in a retryable way."""
    retrying = AsyncRetrying(
        stop=stop_after_attempt(max_retries + 1),
        retry=retry_if_exception(is_retryable),
        wait=_wait,
        reraise=True,
    )
    return await retrying(attempt)
