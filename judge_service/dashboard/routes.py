"""The dashboard's pages, served by the API process itself at `/`.

Server-rendered (Jinja2) with a little plain JavaScript for live refresh and labelling; the
charts are HTML bars with their numbers beside them, so no chart library, CDN or build step
is needed and the pages work offline.
"""

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import numpy as np
from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from pydantic import Field

from judge_service.dashboard import format as fmt
from judge_service.dashboard.session import Viewer, safe_next
from judge_service.dashboard.views import (
    MISSING,
    PANEL,
    PairFilter,
    SummaryCache,
    browse_pairs,
    linked_runs,
    list_runs,
    models,
    pair_page,
    run_page,
)
from judge_service.db.run_frame import metadata_keys
from judge_service.db.runs import newest_runs
from judge_service.labelling.queue import QueueRefused, next_pairs
from judge_service.services.labels import key_identity
from judge_service.services.leaderboard import MAX_RUNS, compute_leaderboard
from judge_service.stats.label_design import Strategy
from judge_service.stats.preference import Outcome
from judge_service.text import Text
from judge_service.web.auth import access, request_key
from judge_service.web.deps import MAX_ROW_ID, RowId, SessionDep, SettingsDep, get_pair, get_run
from judge_service.web.state import AppState, state_of

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
RUNS_PER_PAGE = 25
PAIRS_PER_PAGE = 50

templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters.update(fmt.FILTERS)
OUTCOMES = [*(o.value for o in Outcome), MISSING]
templates.env.globals.update(outcomes=OUTCOMES, panel=PANEL)

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)


class DashboardState(AppState):
    """What only the dashboard reads, besides what every part does (see web/state.py)."""

    summaries: SummaryCache


def _cache(request: Request) -> SummaryCache:
    return state_of(request.app, DashboardState).summaries


def _page(request: Request, name: str, **context: Any) -> HTMLResponse:
    signed_in = access(state_of(request.app, AppState).settings.auth, request.scope) == "key"
    return templates.TemplateResponse(request, name, {"signed_in": signed_in, **context})


@router.get("/")
def runs_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    project: Viewer,
    model: Annotated[Text | None, Query(max_length=200)] = None,
    before: Annotated[int | None, Query(ge=1, le=MAX_ROW_ID)] = None,
) -> HTMLResponse:
    rows, older = list_runs(
        session,
        project,
        _cache(request),
        settings.all_judges,
        model=model or None,
        before=before,
        limit=RUNS_PER_PAGE,
    )
    return _page(
        request, "runs.html", rows=rows, older=older, model=model, models=models(session, project)
    )


def _run_view(
    run_id: RowId,
    session: SessionDep,
    settings: SettingsDep,
    project: Viewer,
    by: str | None = None,
) -> dict[str, Any]:
    return run_page(session, get_run(session, run_id, project), settings.all_judges, by)


RunView = Annotated[dict[str, Any], Depends(_run_view)]


@router.get("/runs/{run_id}")
def run_view(request: Request, view: RunView) -> HTMLResponse:
    return _page(request, "run.html", **view)


@router.get("/runs/{run_id}/live")
def run_live(request: Request, view: RunView) -> HTMLResponse:
    """The run page's body alone, polled while the run judges."""
    return _page(request, "_run_body.html", **view)


@router.get("/runs/{run_id}/pairs")
def pairs_view(
    request: Request,
    run_id: RowId,
    session: SessionDep,
    project: Viewer,
    judge: str = PANEL,
    outcome: str | None = None,
    disagree: bool = False,
    key: str | None = None,
    value: str | None = None,
    human: str | None = None,
    page: Annotated[int, Query(ge=1)] = 1,
) -> HTMLResponse:
    run = get_run(session, run_id, project)
    keys = metadata_keys(session, run)
    wanted = PairFilter(
        judge=judge if judge in run.judges else PANEL,
        outcome=outcome if outcome in OUTCOMES else None,
        disagree=disagree,
        key=key if key in keys else None,
        value=value if key in keys and value else None,
        human=human if human in ("labelled", "unlabelled") else None,
    )
    rows, total = browse_pairs(session, run, wanted, page, PAIRS_PER_PAGE)
    query = {
        name: getattr(wanted, name)
        for name in ("judge", "outcome", "key", "value", "human")
        if getattr(wanted, name)
    }
    if wanted.disagree:
        query["disagree"] = "true"
    return _page(
        request,
        "pairs.html",
        run=run,
        rows=rows,
        total=total,
        page=page,
        pages=max(1, -(-total // PAIRS_PER_PAGE)),
        wanted=wanted,
        keys=keys,
        query=urlencode(query),
    )


@router.get("/runs/{run_id}/label", response_model=None)
def label_next(
    request: Request,
    run_id: RowId,
    session: SessionDep,
    project: Viewer,
    annotator: Annotated[Text, Query(max_length=100)] = "",
    skip: Annotated[int | None, Query(ge=1, le=MAX_ROW_ID)] = None,
) -> RedirectResponse | HTMLResponse:
    """Blind labelling from the label queue: opens the next pair it hands this annotator.

    Signed in, the annotator is the key's, whatever the link says. The queue records each
    draw, so these labels count in the calibrated win rate (docs/statistics.md).
    """
    run = get_run(session, run_id, project)
    annotator = key_identity(session, request_key(request), project) or annotator.strip()
    if not annotator:
        return _page(request, "label_start.html", run=run, reason=None)
    try:
        batch = next_pairs(
            session,
            run,
            annotator,
            1,
            Strategy.ACTIVE,
            np.random.default_rng(),
            frozenset({skip}) if skip else frozenset(),
        )
    except QueueRefused as refusal:
        page = _page(request, "label_start.html", run=run, reason=str(refusal))
        page.status_code = 409
        return page
    if not batch.pair_ids:
        return RedirectResponse(f"/runs/{run.id}/pairs?human=labelled", status_code=303)
    blind = urlencode({"blind": "true"})
    return RedirectResponse(f"/pairs/{batch.pair_ids[0]}?{blind}", status_code=303)


@router.get("/pairs/{pair_id}")
def pair_view(
    request: Request,
    pair_id: RowId,
    session: SessionDep,
    settings: SettingsDep,
    project: Viewer,
    blind: bool = False,
) -> HTMLResponse:
    pair = get_pair(session, pair_id, project)
    return _page(
        request,
        "pair.html",
        **pair_page(session, pair, blind, settings.image_hosts),
        key_annotator=key_identity(session, request_key(request), project),
    )


@router.get("/leaderboard")
def leaderboard_view(
    request: Request,
    session: SessionDep,
    project: Viewer,
    runs: Annotated[list[Annotated[int, Field(ge=1, le=MAX_ROW_ID)]] | None, Query()] = None,
) -> HTMLResponse:
    choices = newest_runs(session, project, MAX_RUNS)
    chosen = sorted(set(runs))[:MAX_RUNS] if runs else linked_runs(choices)
    board, error = None, None
    if chosen:
        try:
            board = compute_leaderboard(session, project, chosen)
        except RequestValidationError as refused:
            error = "; ".join(str(e["msg"]) for e in refused.errors())
    return _page(
        request, "leaderboard.html", choices=choices, chosen=chosen, board=board, error=error
    )


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> HTMLResponse:
    return _page(request, "login.html", next=safe_next(next))
