"""Bradley-Terry across runs that share models: the body of `GET /v1/leaderboard`, which the
dashboard's leaderboard page renders too."""

from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from judge_service.db.models import Project
from judge_service.db.run_frame import load_run_frame
from judge_service.db.runs import project_runs
from judge_service.stats.bradley_terry import AnchorError, fit_bradley_terry
from judge_service.stats.report import build_report
from judge_service.web.errors import query_error

MAX_RUNS = 100


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
    found = project_runs(session, project, ids)
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
