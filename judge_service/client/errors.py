"""Exceptions the client raises: one base class, carrying what the server said."""

from collections.abc import Sequence
from typing import Any

__all__ = ["JudgeConnectionError", "JudgeServiceError", "RunMismatchError"]

_LOCATIONS = {"body", "query", "path", "header", "cookie"}


def field_name(loc: Sequence[Any]) -> str | None:
    """`("body", "pairs", 3, "question")` -> `"pairs.3.question"`: the field as a user names it."""
    parts = list(loc)
    if parts and parts[0] in _LOCATIONS:
        parts = parts[1:]
    return ".".join(str(part) for part in parts) or None


class JudgeServiceError(Exception):
    """The API refused a request, or could not be reached.

    `status_code` is the HTTP status (None when no response came back);
    `message` the server's own words; `loc` and `field` name the offending
    field of a 422 (`loc` as the server sent it, `field` without the
    `body`/`query` prefix); `errors` keeps every item of a 422's `detail`.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        loc: Sequence[Any] = (),
        errors: Sequence[dict[str, Any]] = (),
        method: str | None = None,
        url: str | None = None,
        retry_after: float | None = None,
        external_id: str | None = None,
    ) -> None:
        self.message = message
        self.status_code = status_code
        self.loc: tuple[Any, ...] = tuple(loc)
        self.field = field_name(self.loc)
        self.errors: list[dict[str, Any]] = list(errors)
        self.method = method
        self.url = url
        self.retry_after = retry_after
        self.external_id = external_id
        super().__init__(message)

    def __str__(self) -> str:
        request = f"{self.method} {self.url}" if self.method and self.url else ""
        if self.status_code is not None:
            prefix = f"HTTP {self.status_code}" + (f" from {request}" if request else "") + ": "
        else:
            prefix = f"{request}: " if request else ""
        field = f"{self.field}: " if self.field else ""
        pair = f" [pair external_id={self.external_id!r}]" if self.external_id else ""
        more = f" (and {len(self.errors) - 1} more errors)" if len(self.errors) > 1 else ""
        return f"{prefix}{field}{self.message}{pair}{more}"


class JudgeConnectionError(JudgeServiceError):
    """No usable response: the connection failed or broke, even after the retries.

    `sent_maybe` is False when the request surely never reached the server
    (connection refused, connect timeout), so even a non-idempotent call is
    safe to repeat.
    """

    def __init__(self, message: str, *, sent_maybe: bool, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.sent_maybe = sent_maybe


class RunMismatchError(JudgeServiceError):
    """A run with the requested name exists but compares something else.

    Reusing it would mix two comparisons in one set of figures; pick another
    name or match the existing run's baseline, candidate and judges.
    """
