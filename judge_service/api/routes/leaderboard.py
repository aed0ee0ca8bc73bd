"""Bradley-Terry across runs that share models: base vs tuned-v1, base vs tuned-v2, v1 vs v2."""

from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Query
from sqlalchemy import select
from sqlalchemy.orm import Session

from judge_service.api.auth import AUTH_RESPONSES, ProjectDep
from judge_service.api.deps import SessionDep, query_error
from judge_service.api.schemas import MAX_ROW_ID
from judge_service.db.models import Project, Run
from judge_service.db.run_frame import load_run_frame
from judge_service.stats.bradley_terry import AnchorError, fit_bradley_terry
from judge_service.stats.report import build_report

router = APIRouter(prefix="/v1/leaderboard", tags=["leaderboard"], responses=AUTH_RESPONSES)

MAX_RUNS = 100


def _parse_ids(runs: str) -> list[int]:
    try:
        ids = sorted({int(part) for part in runs.split(",") if part.strip()})
    except ValueError:
        raise query_error("runs", "runs must be comma-separated run ids, e.g. runs=1,2,3") from None
    if not ids:
        raise query_error("runs", "name at least one run")
    if len(ids) > MAX_RUNS:
        raise query_error("runs", f"name at most {MAX_RUNS} runs")
    if not 1 <= ids[0] <= ids[-1] <= MAX_ROW_ID:
        raise query_error("runs", f"run ids are from 1 to {MAX_ROW_ID}")
    return ids


@router.get("")
def leaderboard(
    session: SessionDep,
    project: ProjectDep,
    runs: Annotated[str, Query(description="Comma-separated run ids, e.g. 1,2,3")],
    bootstrap_rounds: Annotated[int, Query(ge=0, le=10_000)] = 1000,
    seed: Annotated[int, Query(ge=0)] = 0,
    anchor: Annotated[str | None, Query(description="A model whose score is fixed at 0")] = None,
) -> dict[str, Any]:
    """Each pair the panel decided is one battle; a tie or inconsistent pair is half a win each.

    A model that won (or lost) every comparison has `score: null` and `unbounded: "+inf"`
    (or "-inf"); the other models are fitted and centred without it.
    """
    return compute_leaderboard(
        session,
        project,
        _parse_ids(runs),
        bootstrap_rounds=bootstrap_rounds,
        seed=seed,
        anchor=anchor,
    )


def compute_leaderboard(
    session: Session,
    project: Project,
    ids: list[int],
    *,
    bootstrap_rounds: int = 1000,
    seed: int = 0,
    anchor: str | None = None,
) -> dict[str, Any]:
    """The body of `GET /v1/leaderboard`, shared with the dashboard's leaderboard page."""
    found = session.scalars(
        select(Run).where(Run.id.in_(ids), Run.project_id == project.id).order_by(Run.id)
    ).all()
    missing = sorted(set(ids) - {run.id for run in found})
    if missing:
        raise query_error("runs", f"no such run: {', '.join(map(str, missing))}")
    model_a: list[str] = []
    model_b: list[str] = []
    score_a: list[np.ndarray] = []
    for run in found:
        panel = build_report(load_run_frame(session, run)[0], bootstrap_rounds=0).panel
        counts = (panel.wins, panel.losses, panel.ties + panel.inconsistent)
        model_a += [run.candidate] * panel.n
        model_b += [run.baseline] * panel.n
        score_a.append(np.repeat([1.0, 0.0, 0.5], counts))
    if not model_a:
        raise query_error("runs", "these runs have no judged pairs yet")
    if anchor is not None and anchor not in {*model_a, *model_b}:
        raise query_error("anchor", f"{anchor!r} is not a model of these runs")
    try:
        fit = fit_bradley_terry(
            model_a=model_a,
            model_b=model_b,
            score_a=np.concatenate(score_a),
            bootstrap_rounds=bootstrap_rounds,
            seed=seed,
            anchor=anchor,
        )
    except AnchorError as error:  # the anchor won or lost every comparison: no finite score
        raise query_error("anchor", str(error)) from None
    except ValueError as error:  # models not linked by any chain of runs, a model vs itself
        raise query_error("runs", str(error)) from None
    return {"runs": [run.id for run in found], "battles": fit.battles, **fit.as_dict()}
