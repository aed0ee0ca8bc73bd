"""Who is asking: the project behind the request's API key, and how often it may ask.

A key is sent as `Authorization: Bearer <key>` (the dashboard keeps it in an HttpOnly
cookie instead). Another project's run is answered 404, exactly like a run that does not
exist. Which requests need a key (`JUDGE_AUTH`) the app decides itself, per request, so
`judge-service serve`, `uvicorn --factory`, gunicorn and docker compose all answer alike:

- `required`: every request for a project's data needs a key.
- `auto`: as `required`, except for a request from this machine, which acts for the
  "default" project. From this machine means all of: the client address is loopback; no
  header a proxy adds is present (`Forwarded`, `Via`, `X-Forwarded-*`, `X-Real-IP` and the
  other client-address headers below); the Host, if any, is loopback (`localhost`,
  `*.localhost`, 127.0.0.0/8, ::1). A reverse proxy on this machine therefore needs keys for
  what it forwards, and a web page that rebinds its DNS name to 127.0.0.1 gets no data. A
  proxy that adds none of these headers and keeps the loopback Host hides its clients: run
  it with `required`. A key sent from this machine is checked and acts for its project.
- `off`: no key is ever checked; a request not from this machine is refused (403), so no
  launcher can serve projects' data to the network without keys.

`AuthMiddleware` settles this before a body is read: a request refused costs no upload,
and one that needs no project (probes, the sign-in page and form, static files, the docs)
may send a few KiB of body at most unless the server is open to it.
"""

import ipaddress
import logging
import time
from functools import lru_cache
from typing import Annotated, Any, Literal

from fastapi import Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from redis import RedisError
from starlette.datastructures import Headers
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from judge_service.config import Settings
from judge_service.db.models import Project
from judge_service.db.projects import default_project, key_digest, project_for_key
from judge_service.redis_clients import probe_redis
from judge_service.web.deps import SettingsDep
from judge_service.web.limits import BodyLimitMiddleware
from judge_service.web.state import AppState, state_of

COOKIE = "judge_key"
log = logging.getLogger(__name__)
WINDOW_S = 60
# The sign-in form's `{"api_key": "js_..."}` is under 300 bytes.
ANONYMOUS_MAX_BODY_BYTES = 4096
# Where AuthMiddleware leaves the project for `current_project` (in the ASGI scope's state).
PROJECT_STATE = "judge_project"
API_PREFIX = "/v1"  # every route under it acts for a project
# Headers a proxy adds to say who its client is (`X-Forwarded-*` counts by its prefix).
FORWARDING_HEADERS = frozenset(
    {
        "forwarded",
        "via",
        "x-real-ip",
        "x-client-ip",
        "x-cluster-client-ip",
        "true-client-ip",
        "cf-connecting-ip",
        "fastly-client-ip",
    }
)

Access = Literal["open", "key", "refused"]

AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "No API key, or an unknown or revoked one"},
    429: {"description": "Over this key's requests per minute; see Retry-After"},
}


@lru_cache(maxsize=1024)  # every request asks about its client and Host: a few values, parsed once
def loopback_host(host: str) -> bool:
    """`localhost`, a name under `.localhost` (RFC 6761) or a loopback address literal."""
    name = host.strip().lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(name.removeprefix("[").removesuffix("]"))
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def _host_name(value: str) -> str:
    """A Host header without its port: `[::1]:8000` -> `[::1]`, `localhost:8000` -> `localhost`."""
    if value.startswith("["):
        return value.partition("]")[0] + "]"
    name, colon, port = value.rpartition(":")
    return name if colon and port.isdecimal() else value


def from_this_machine(scope: Scope) -> bool:
    """Loopback client, loopback or no Host, and no proxy's headers (see the module doc)."""
    client = scope.get("client")
    if not client or not loopback_host(str(client[0])):
        return False
    headers = Headers(scope=scope)
    names = {name.lower() for name in headers}
    if names & FORWARDING_HEADERS or any(name.startswith("x-forwarded-") for name in names):
        return False
    host = headers.get("host")
    return host is None or loopback_host(_host_name(host))


def access(auth: str, scope: Scope) -> Access:
    """What a request for a project's data needs under `JUDGE_AUTH=auth`."""
    if auth == "required":
        return "key"
    if from_this_machine(scope):
        return "open"
    return "refused" if auth == "off" else "key"


def request_key(connection: HTTPConnection) -> str | None:
    scheme, _, value = connection.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return connection.cookies.get(COOKIE)


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status_code=401, detail=detail, headers={"WWW-Authenticate": "Bearer"})


class RateLimiter:
    """Fixed one-minute windows per caller, counted in Redis so every API process shares them.

    Without Redis (the embedded mode is one process) the counts live in memory.
    """

    def __init__(self, per_minute: int, redis_url: str | None) -> None:
        self.per_minute = per_minute
        # A probe client: while Redis is away each request waits seconds at most, not minutes.
        self._redis = probe_redis(redis_url) if redis_url and per_minute else None
        self._counts: dict[tuple[str, int], int] = {}

    def hit(self, caller: str) -> int | None:
        """Counts a request; returns the seconds to wait when it is over the limit."""
        if not self.per_minute:
            return None
        now = time.time()
        window = int(now // WINDOW_S)
        if self._redis is not None:
            name = f"judge:ratelimit:{caller}:{window}"
            try:
                with self._redis.pipeline() as pipe:
                    pipe.incr(name)
                    pipe.expire(name, 2 * WINDOW_S)
                    count = int(pipe.execute()[0])
            except RedisError:
                # Redis only dispatches; while it is away, requests are not refused for it.
                log.warning("rate limit not counted: Redis unreachable")
                return None
        else:
            self._counts = {k: v for k, v in self._counts.items() if k[1] >= window}
            count = self._counts[(caller, window)] = self._counts.get((caller, window), 0) + 1
        if count <= self.per_minute:
            return None
        return max(1, int((window + 1) * WINDOW_S - now) + 1)

    def close(self) -> None:
        if self._redis is not None:
            self._redis.close()


async def authenticate(scope: Scope, settings: Settings) -> Project:
    """The request's project, or the HTTPException (401, 403 or 429) that answers it.

    Async, so a request hops to a worker thread only to ask the database or Redis. Keys are
    looked up on every request, never cached: `keys revoke` takes effect at once.
    """
    state = state_of(scope["app"], AppState)
    needs = access(settings.auth, scope)
    if needs == "refused":
        raise HTTPException(
            status_code=403,
            detail="JUDGE_AUTH=off serves requests from this machine only (loopback, no proxy); "
            "to serve other clients set JUDGE_AUTH=auto or required and send an API key",
        )
    key = request_key(HTTPConnection(scope)) if settings.auth != "off" else None
    if key is not None:
        return await run_in_threadpool(_keyed_project, state, key, settings)
    if needs == "key":
        beyond = " (required beyond this machine)" if settings.auth == "auto" else ""
        raise _unauthorized(f"missing API key: send 'Authorization: Bearer <key>'{beyond}")
    project: Project | None = getattr(state, "default_project", None)
    if project is None:
        # An open server's one project: its row never changes, so a process reads it once.
        project = state.default_project = await run_in_threadpool(_read_default_project, state)
    return project


async def current_project(request: Request, settings: SettingsDep) -> Project:
    """The project `AuthMiddleware` found before the body was read (pages find their own)."""
    project: Project | None = request.scope.get("state", {}).get(PROJECT_STATE)
    if project is None:
        project = await authenticate(request.scope, settings)
    return project


def _keyed_project(state: AppState, key: str, settings: Settings) -> Project:
    with state.sessions() as session:
        project = project_for_key(session, key)  # detached when returned: only its id is read
    if project is None:
        raise _unauthorized("unknown or revoked API key")
    wait = state.rate_limiter.hit(key_digest(key))
    if wait is not None:
        raise HTTPException(
            status_code=429,
            detail=f"over {settings.rate_limit_per_minute} requests per minute for this key",
            headers={"Retry-After": str(wait)},
        )
    return project


def _read_default_project(state: AppState) -> Project:
    with state.sessions() as session:
        return default_project(session)


def _route_path(scope: Scope) -> str:
    """The path the router matches: without the `root_path` a proxy mounts the app under."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


class AuthMiddleware:
    """Authenticates an API request before its body is read; bounds every other body.

    Every route under /v1/ acts for a project, so a request there is answered 401, 403 or
    429 here, from its headers alone; a refused request that declared a body also closes
    its connection, so the client stops sending. Otherwise its project waits in the scope
    for `current_project`, and its body may be `max_bytes` long. Anything else (probes,
    the sign-in page and form, static files, the docs, dashboard pages) is passed on with a
    few KiB of body at most, unless the server is open to this request: dashboard pages
    ask `current_project` themselves, to send a browser without a key to the sign-in page.
    """

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.settings = settings
        self.app = BodyLimitMiddleware(app, settings.max_body_bytes)
        self.anonymous = BodyLimitMiddleware(
            app, min(ANONYMOUS_MAX_BODY_BYTES, settings.max_body_bytes)
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = _route_path(scope)
        if path != API_PREFIX and not path.startswith(API_PREFIX + "/"):
            open_here = access(self.settings.auth, scope) == "open"
            await (self.app if open_here else self.anonymous)(scope, receive, send)
            return
        try:
            project = await authenticate(scope, self.settings)
        except HTTPException as refused:
            headers = dict(refused.headers or {})
            declared = Headers(scope=scope)
            if declared.get("content-length", "0") != "0" or "transfer-encoding" in declared:
                headers["Connection"] = "close"
            response = JSONResponse({"detail": refused.detail}, refused.status_code, headers)
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})[PROJECT_STATE] = project
        await self.app(scope, receive, send)


ProjectDep = Annotated[Project, Depends(current_project)]
