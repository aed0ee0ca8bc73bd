"""What a provider's response headers say about when to call it next.

`retry-after` (seconds or an HTTP date; OpenAI also sends `retry-after-ms`) comes with a
429 or 529. Every response may carry the remaining quota and when it resets: OpenAI
`x-ratelimit-{remaining,reset}-{requests,tokens}` (reset as a duration, `1s`, `120ms`,
`6m0s`), Anthropic `anthropic-ratelimit-{requests,tokens}-{remaining,reset}` (reset as an
RFC 3339 time). A remaining quota of zero means the next call would be refused until then.
"""

import re
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Protocol

THROTTLED = (429, 529)


class StatusResponse(Protocol):
    """What a response hook reads of the SDK's HTTP response."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...


# Called with every HTTP response a judge's client receives (`judging/throttling.py`).
ResponseHook = Callable[[StatusResponse], Awaitable[None]]
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def retry_after_s(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """Seconds the provider asked us to wait, or None when it did not say."""
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _reset_s(value: str, now: datetime) -> float | None:
    """A reset as seconds from now: OpenAI's duration or Anthropic's RFC 3339 time."""
    parts = _DURATION.findall(value)
    if parts and "".join(number + unit for number, unit in parts) == value.strip():
        return sum(float(number) * _UNIT_S[unit] for number, unit in parts)
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return max(0.0, (when - now).total_seconds())


def exhausted_for_s(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """How long a quota the response reports as spent (remaining 0) stays spent, if any.

    The reset is when the quota is full again; the next request needs only one request's
    refill, 60 s / the per-minute limit when the limit is given. A spent token quota waits
    for its reset: the next request's tokens are not known here.
    """
    now = now or datetime.now(UTC)
    waits = []
    for prefix, what in (
        ("x-ratelimit-{}-requests", "requests"),
        ("x-ratelimit-{}-tokens", "tokens"),
        ("anthropic-ratelimit-requests-{}", "requests"),
        ("anthropic-ratelimit-tokens-{}", "tokens"),
    ):
        remaining, reset = (
            headers.get(prefix.format("remaining")),
            headers.get(prefix.format("reset")),
        )
        if remaining is None or remaining.strip() != "0" or reset is None:
            continue
        wait = _reset_s(reset, now)
        if wait is None:
            continue
        limit = headers.get(prefix.format("limit"), "")
        if what == "requests" and limit.strip().isdigit() and int(limit) > 0:
            wait = min(wait, 60.0 / int(limit))
        waits.append(wait)
    return max(waits) if waits else None


def pause_s(status: int, headers: Mapping[str, str]) -> float | None:
    """How long every caller of this judge should hold off after this response, if at all."""
    waits = [exhausted_for_s(headers)]
    if status in THROTTLED:
        waits.append(retry_after_s(headers))
    known = [wait for wait in waits if wait]
    return max(known) if known else None


def announced_limits(headers: Mapping[str, str]) -> tuple[int | None, int | None]:
    """The requests and tokens per minute the provider says this key may use, if it says.

    OpenAI's `x-ratelimit-limit-{requests,tokens}` and Anthropic's
    `anthropic-ratelimit-{requests,tokens}-limit` (tokens: the most restrictive of its
    token limits) are both per minute.
    """
    found: list[int | None] = []
    for names in (
        ("x-ratelimit-limit-requests", "anthropic-ratelimit-requests-limit"),
        ("x-ratelimit-limit-tokens", "anthropic-ratelimit-tokens-limit"),
    ):
        values = [headers.get(name, "").strip() for name in names]
        found.append(next((int(v) for v in values if v.isdigit() and int(v) > 0), None))
    return found[0], found[1]
