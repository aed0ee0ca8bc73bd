"""What a request body may be before any model sees it: its size, and JSON that parses cleanly.

The size limit counts bytes as they arrive, so neither a missing nor a false
Content-Length lets a larger body into memory. The JSON rules turn what Python's
parser would accept or choke on (invalid UTF-8, NaN, 1e400, nesting deep enough
to exhaust the stack) into FastAPI's own 422, never a 400 or a 500.
"""

import json
import math
import re
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any, NoReturn

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_JSON_DEPTH = 32
MAX_INT_DIGITS = 4300  # Python's own limit for int(str): past it conversion is quadratic
# Valid UTF-8 cannot encode a surrogate, so only a JSON escape can put one in a string.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


class BodyLimitMiddleware:
    """413 for a request body over `max_bytes`; a body within it is passed on unchanged.

    The body is read before the app runs, as FastAPI reads it before calling a route.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdecimal() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        received: deque[Message] = deque()
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client left: nobody to answer
                return
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            received.append(message)
            more = message.get("more_body", False)

        async def replay() -> Message:
            return received.popleft() if received else await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        """413, and the connection closes: the rest of the body is not wanted."""
        detail = f"request body over the limit of {self.max_bytes} bytes; split the request"
        response = JSONResponse({"detail": detail}, 413, headers={"Connection": "close"})
        await response(scope, receive, send)


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text} is out of range")
    return value


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"integer of more than {MAX_INT_DIGITS} digits")
    return int(text)


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether arrays and objects nest more than `limit` levels (iterative: no recursion)."""
    stack = [(value, 1)] if isinstance(value, dict | list) else []
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def _lone_surrogate_at(value: Any) -> str | None:
    """Where a string or key holds an unpaired surrogate (escaped pairs are one character)."""
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        node, path = stack.pop()
        if isinstance(node, str):
            if _SURROGATE.search(node):
                return path or "the body"
        elif isinstance(node, dict):
            for key, child in node.items():
                # Named with the surrogate escaped: the message itself must be valid UTF-8.
                here = key.encode("utf-8", "backslashreplace").decode()
                here = f"{path}.{here}" if path else here
                if _SURROGATE.search(key):
                    return f"a key: {here}"
                stack.append((child, here))
        elif isinstance(node, list):
            stack.extend((child, f"{path}.{i}" if path else str(i)) for i, child in enumerate(node))
    return None


def parse_json(body: bytes) -> Any:
    """The body as JSON, or a `JSONDecodeError` (FastAPI's 422) saying what is wrong.

    UTF-8 only, as RFC 8259 requires (a byte order mark is skipped); no NaN or
    Infinity, which PostgreSQL's jsonb cannot store and JSON does not define; no
    unpaired surrogate escape, which no UTF-8 response or PostgreSQL string can hold.
    """
    try:
        text = body.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as error:
        doc = body.decode("utf-8", "replace")
        msg = f"invalid UTF-8: byte 0x{body[error.start]:02x} at offset {error.start}"
        raise json.JSONDecodeError(msg, doc, error.start) from None
    too_deep = f"arrays and objects nested more than {MAX_JSON_DEPTH} levels deep"
    try:
        value = json.loads(
            text,
            parse_constant=_refuse_constant,
            parse_float=_finite_float,
            parse_int=_bounded_int,
        )
    except RecursionError:
        raise json.JSONDecodeError(too_deep, text, 0) from None
    except json.JSONDecodeError:
        raise
    except ValueError as error:  # from the hooks above
        raise json.JSONDecodeError(str(error), text, 0) from None
    if _deeper_than(value, MAX_JSON_DEPTH):
        raise json.JSONDecodeError(too_deep, text, 0)
    if _SURROGATE_ESCAPE.search(text) and (where := _lone_surrogate_at(value)):
        raise json.JSONDecodeError(f"unpaired UTF-16 surrogate escape in {where}", text, 0)
    return value


class StrictJSONRequest(Request):
    """A request whose `json()` is `parse_json`: the one FastAPI calls to read a body."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = parse_json(await self.body())
        return self._json


class StrictJSONRoute(APIRoute):
    """Pass as `route_class` to every router whose routes take a JSON body."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict_handler(request: Request) -> Response:
            return await handler(StrictJSONRequest(request.scope, request.receive))

        return strict_handler
