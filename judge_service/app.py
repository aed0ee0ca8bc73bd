"""The application factory: one FastAPI app that serves the API (`/v1`, probes, `/metrics`)
and the dashboard (`/`, sign-in, the API docs), over one session factory and dispatcher.

It sits above both, so the API and the dashboard never import each other.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from judge_service import __version__
from judge_service.api.deps import ApiState
from judge_service.api.ingest_runs import IngestRuns
from judge_service.api.metrics_collector import ServiceCollector
from judge_service.api.pair_writer import PairWriter
from judge_service.api.routes import (
    drift,
    health,
    human_labels,
    judges,
    judgments,
    label_queue,
    leaderboard,
    metrics,
    pairs,
    plan,
    probes,
    results,
    rubrics,
    runs,
    stats,
)
from judge_service.api.security_headers import SecurityHeadersMiddleware
from judge_service.config import Settings
from judge_service.dashboard import api_docs
from judge_service.dashboard import routes as dashboard
from judge_service.dashboard import session as dashboard_session
from judge_service.dashboard.routes import DashboardState
from judge_service.dashboard.views import SummaryCache
from judge_service.db.engine import dispose_engine, session_factory
from judge_service.jobs.dispatch import InProcessDispatcher, make_dispatcher
from judge_service.jobs.reconcile import reconcile
from judge_service.web.auth import AuthMiddleware, RateLimiter
from judge_service.web.errors import method_not_allowed
from judge_service.web.openapi import state_rules


class ServiceState(ApiState, DashboardState):
    """`app.state`: the shared objects of the API and the dashboard (web/state.py)."""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    state = ServiceState()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state.settings = settings
        state.sessions = session_factory(settings.database_url)
        state.dispatcher = make_dispatcher(settings)
        state.pair_writer = PairWriter(
            state.sessions, IngestRuns(), state.dispatcher, settings.ingest_concurrency
        )
        state.summaries = SummaryCache()
        state.rate_limiter = RateLimiter(settings.rate_limit_per_minute, settings.redis_url)
        state.metrics = ServiceCollector(settings, state.sessions, state.dispatcher)
        if isinstance(state.dispatcher, InProcessDispatcher):
            # In-process jobs die with the process; pick up what a previous one left.
            reconcile(state.sessions, state.dispatcher, settings.lease_s, everything=True)
        try:
            yield
        finally:
            state.dispatcher.close()
            state.rate_limiter.close()
            state.metrics.close()
            dispose_engine(settings.database_url)

    app = FastAPI(
        title="judge-service",
        version=__version__,
        summary="Pairwise LLM-as-a-judge: is the fine-tuned model's reasoning better?",
        lifespan=lifespan,
        docs_url=None,  # served by dashboard/api_docs.py, offline and under the CSP
        redoc_url=None,
    )
    app.state = state
    app.add_exception_handler(HTTPException, method_not_allowed)
    # Decides who is asking before any body is read, then caps the body (web/limits.py).
    app.add_middleware(AuthMiddleware, settings=settings)
    for module in (
        runs,
        pairs,
        results,
        human_labels,
        plan,
        label_queue,
        stats,
        leaderboard,
        judgments,
        drift,
        probes,
        rubrics,
        judges,
        health,
        metrics,
        dashboard,
        dashboard_session,
        api_docs,
    ):
        app.include_router(module.router)
    state_rules(app, settings)
    app.mount("/static", StaticFiles(directory=dashboard.STATIC_DIR), name="static")
    app.mount("/docs", StaticFiles(directory=api_docs.SWAGGER_ASSETS), name="swagger-ui")
    app.mount("/redoc", StaticFiles(directory=api_docs.REDOC_ASSETS), name="redoc")
    # Added last, so outermost: its headers reach every response, the 413s and 500s too.
    app.add_middleware(SecurityHeadersMiddleware, image_hosts=settings.image_hosts)
    return app
