"""A run's preference figures."""

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.exceptions import RequestValidationError

from judge_service.api.deps import SessionDep, get_run
from judge_service.api.schemas import PreferenceStats, RunStats
from judge_service.db.queries import pair_ids, run_orders, verdict_rows
from judge_service.judging.protocol import Scale
from judge_service.stats.preference import PreferenceSummary
from judge_service.stats.report import build_report

router = APIRouter(prefix="/v1/runs", tags=["stats"])


def _public(summary: PreferenceSummary) -> PreferenceStats:
    return PreferenceStats.model_validate(summary, from_attributes=True)


@router.get("/{run_id}/stats")
def run_stats(
    run_id: int,
    session: SessionDep,
    axis: Annotated[str | None, Query(description="A rubric axis; default: overall")] = None,
) -> RunStats:
    run = get_run(session, run_id)
    axes = [item["name"] for item in run.rubric.get("axes", [])]
    if axis is not None and axis not in axes:
        msg = f"rubric {run.rubric_name!r} has no axis {axis!r}; its axes: {axes}"
        raise RequestValidationError(
            [{"loc": ("query", "axis"), "msg": msg, "type": "value_error"}]
        )
    report = build_report(
        pair_ids(session, run.id),
        verdict_rows(session, run.id, axis),
        run.judges,
        len(run_orders(run)),
    )
    panel = _public(report.panel)
    return RunStats(
        run_id=run.id,
        baseline=run.baseline,
        candidate=run.candidate,
        judges=run.judges,
        rubric=run.rubric_name,
        rubric_version=run.rubric_version,
        scale=Scale(run.scale),
        axis=axis,
        per_judge={judge: _public(summary) for judge, summary in report.per_judge.items()},
        panel=panel,
        **panel.model_dump(),
    )
