"""The request core shared by the sync and async clients.

Every client operation is written once, as a generator ("flow") that yields
`Call` and `Sleep` steps and receives their results (or has their exceptions
thrown into it). `JudgeClient` drives flows with httpx.Client and
`time.sleep`, `AsyncJudgeClient` with httpx.AsyncClient and `asyncio.sleep`;
what to request, how to read the answer, what to retry and how long to back
off are all decided here, once.
"""

import logging
import os
import random
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
)

from judge_service.client.errors import JudgeConnectionError, JudgeServiceError
from judge_service.judging.rate_headers import retry_after_s

log = logging.getLogger("judge_service.client")

ENV_URL = "JUDGE_URL"
ENV_API_KEY = "JUDGE_API_KEY"
DEFAULT_URL = "http://127.0.0.1:8000"
# A Retry-After longer than this is the server asking us to go away, not to wait.
MAX_RETRY_AFTER_S = 60.0
MAX_BACKOFF_S = 15.0

T = TypeVar("T")


@dataclass(frozen=True)
class Call:
    """One HTTP request to the API, as data.

    `idempotent` says whether repeating it after an ambiguous failure (a
    dropped connection, a 5xx) is harmless: true for reads and for pair
    uploads (the server skips external_ids it has), false for creating a run.
    `download` streams the body into that file instead of returning it.
    """

    method: str
    path: str
    params: Mapping[str, Any] | None = None
    json: Any = None
    content: bytes | None = None
    idempotent: bool = True
    expect: Literal["json", "text"] = "json"
    download: Path | None = None


@dataclass(frozen=True)
class Sleep:
    seconds: float


Step = Call | Sleep
Flow = Generator[Step, Any, T]


@dataclass(frozen=True)
class ClientConfig:
    base_url: str
    api_key: str | None = None
    timeout: float = 60.0
    retries: int = 5
    backoff: float = 0.5
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def resolve(
        cls,
        base_url: str | None,
        api_key: str | None,
        *,
        timeout: float,
        retries: int,
        backoff: float,
    ) -> "ClientConfig":
        """Arguments first, then JUDGE_URL / JUDGE_API_KEY, then the local default."""
        url = (base_url or os.environ.get(ENV_URL) or DEFAULT_URL).rstrip("/")
        key = api_key if api_key is not None else os.environ.get(ENV_API_KEY) or None
        if retries < 0:
            raise ValueError("retries must be >= 0")
        headers = {"accept": "application/json", "user-agent": _user_agent()}
        if key:
            headers["authorization"] = f"Bearer {key}"
        return cls(url, key, timeout, retries, backoff, headers)


def _user_agent() -> str:
    from judge_service import __version__

    return f"judge-service-client/{__version__}"


def request_kwargs(call: Call) -> dict[str, Any]:
    """What httpx needs for `call`, identical for the sync and async clients."""
    kwargs: dict[str, Any] = {}
    if call.params:
        kwargs["params"] = {k: v for k, v in call.params.items() if v is not None}
    if call.content is not None:
        kwargs["content"] = call.content
        kwargs["headers"] = {"content-type": "application/json"}
    elif call.json is not None:
        kwargs["json"] = call.json
    return kwargs


def decode(call: Call, response: httpx.Response) -> Any:
    """The body of a successful response, or the JudgeServiceError it stands for."""
    if not response.is_success:
        raise error_from_response(call, response)
    if call.expect == "text":
        return response.text
    return response.json() if response.content else None


def error_from_response(call: Call, response: httpx.Response) -> JudgeServiceError:
    """The server's own message and field, whatever shape its error body has."""
    try:
        body = response.json()
    except ValueError:
        body = None
    detail = body.get("detail") if isinstance(body, dict) else None
    errors: list[dict[str, Any]] = []
    loc: tuple[Any, ...] = ()
    if isinstance(detail, list) and detail:
        errors = [item if isinstance(item, dict) else {"msg": str(item)} for item in detail]
        message = str(errors[0].get("msg", errors[0]))
        loc = tuple(errors[0].get("loc", ()))
    elif isinstance(detail, str):
        message = detail
    else:
        message = response.text.strip()[:500] or response.reason_phrase or "error"
    return JudgeServiceError(
        message,
        status_code=response.status_code,
        loc=loc,
        errors=errors,
        method=call.method,
        url=call.path,
        retry_after=_retry_after(response),
    )


def _retry_after(response: httpx.Response) -> float | None:
    return retry_after_s(response.headers)


def connection_error(call: Call, base_url: str, exc: httpx.TransportError) -> JudgeConnectionError:
    # Refused or timed out while connecting: the request never left this machine.
    sent_maybe = not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
    reason = str(exc) or type(exc).__name__
    return JudgeConnectionError(
        f"could not reach {base_url}: {reason}",
        sent_maybe=sent_maybe,
        method=call.method,
        url=call.path,
    )


class RetryPolicy:
    """What to retry, and how long to wait: the same for both clients.

    Retried: connection failures, 429 and 5xx from the API, with exponential
    backoff and jitter, honouring Retry-After. Never a 4xx: the request is
    wrong and repeating it cannot help. A call that is not idempotent is
    retried only when the server cannot have acted on it (the connection was
    never made, or a 429/503 refused it).
    """

    def __init__(self, retries: int, backoff: float) -> None:
        self.retries = retries
        self.backoff = backoff

    def should_retry(self, call: Call, exc: BaseException) -> bool:
        if isinstance(exc, JudgeConnectionError):
            return call.idempotent or not exc.sent_maybe
        if isinstance(exc, JudgeServiceError) and exc.status_code is not None:
            if exc.status_code in (429, 503):
                return True
            return exc.status_code >= 500 and call.idempotent
        return False

    def wait_seconds(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, JudgeServiceError) and exc.retry_after is not None:
            return min(exc.retry_after, MAX_RETRY_AFTER_S)
        exponential = self.backoff * 2 ** (state.attempt_number - 1)
        return min(MAX_BACKOFF_S, exponential) * random.uniform(0.5, 1.0)

    def _options(self, call: Call) -> dict[str, Any]:
        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            wait = state.next_action.sleep if state.next_action else 0.0
            log.warning(
                "%s %s failed (%s); retry %d/%d in %.1f s",
                call.method,
                call.path,
                exc,
                state.attempt_number,
                self.retries,
                wait,
            )

        return {
            "stop": stop_after_attempt(self.retries + 1),
            "wait": self.wait_seconds,
            "retry": retry_if_exception(lambda exc: self.should_retry(call, exc)),
            "before_sleep": before_sleep,
            "reraise": True,
        }

    def sync(self, call: Call) -> Retrying:
        return Retrying(**self._options(call))

    def asynchronous(self, call: Call) -> AsyncRetrying:
        return AsyncRetrying(**self._options(call))


def advance(flow: Flow[T], value: Any, exc: BaseException | None) -> tuple[bool, Any]:
    """Resume a flow with a step's result or exception: (finished, next step or return value)."""
    try:
        step = flow.throw(exc) if exc is not None else flow.send(value)
    except StopIteration as stop:
        return True, stop.value
    return False, step
