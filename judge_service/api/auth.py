"""Who is asking: the project behind the request's API key, and how often it may ask.

A key is sent as `Authorization: Bearer <key>` (the dashboard keeps it in an HttpOnly
cookie instead). On an open server every request acts for the "default" project. Another
project's run is answered 404, exactly like a run that does not exist.
"""

import logging
import time
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from redis import RedisError
from starlette.datastructures import State

from judge_service.api.deps import SettingsDep
from judge_service.config import Settings
from judge_service.db.models import Project
from judge_service.db.projects import default_project, key_digest, project_for_key
from judge_service.redis_clients import probe_redis

COOKIE = "judge_key"
log = logging.getLogger(__name__)
WINDOW_S = 60

AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "No API key, or an unknown or revoked one"},
    429: {"description": "Over this key's requests per minute; see Retry-After"},
}


def request_key(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.cookies.get(COOKIE)


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
                    count = int(pipe.incr(name).expire(name, 2 * WINDOW_S).execute()[0])
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


async def current_project(request: Request, settings: SettingsDep) -> Project:
    """Async, so a request hops to a worker thread only to ask the database or Redis."""
    state = request.app.state
    if settings.auth == "required":
        key = request_key(request)
        if key is None:
            raise _unauthorized("missing API key: send 'Authorization: Bearer <key>'")
        return await run_in_threadpool(_keyed_project, state, key, settings)
    if getattr(state, "default_project", None) is None:
        # An open server's one project: its row never changes, so a process reads it once.
        state.default_project = await run_in_threadpool(_read_default_project, state)
    project: Project = state.default_project
    return project


def _keyed_project(state: State, key: str, settings: Settings) -> Project:
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


def _read_default_project(state: State) -> Project:
    with state.sessions() as session:
        return default_project(session)


ProjectDep = Annotated[Project, Depends(current_project)]
