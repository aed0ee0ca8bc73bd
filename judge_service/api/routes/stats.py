"""A run's figures: preference, intervals, significance, bias, agreement, strata."""

from typing import Annotated

from fastapi import APIRouter, Query

from judge_service.api.schemas import NO_RUN
from judge_service.services.stats import compute_run_stats
from judge_service.services.stats_models import RunStats
from judge_service.text import Text
from judge_service.web.auth import AUTH_RESPONSES, ProjectDep
from judge_service.web.deps import RowId, SessionDep, get_run

router = APIRouter(prefix="/v1/runs", tags=["stats"], responses=AUTH_RESPONSES)


@router.get("/{run_id}/stats", responses={404: NO_RUN})
def run_stats(
    run_id: RowId,
    session: SessionDep,
    project: ProjectDep,
    axis: Annotated[str | None, Query(description="A rubric axis; default: overall")] = None,
    by: Annotated[
        Text | None,
        Query(min_length=1, max_length=100, description="A metadata key to break figures down by"),
    ] = None,
    bootstrap_rounds: Annotated[int, Query(ge=0, le=10_000)] = 1000,
    seed: Annotated[int, Query(ge=0, description="Bootstrap seed: same seed, same intervals")] = 0,
    confidence: Annotated[float, Query(ge=0.5, le=0.999)] = 0.95,
) -> RunStats:
    return compute_run_stats(
        session,
        get_run(session, run_id, project),
        axis=axis,
        by=by,
        bootstrap_rounds=bootstrap_rounds,
        seed=seed,
        confidence=confidence,
    )
