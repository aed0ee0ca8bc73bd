"""A run's preference figures."""

from fastapi import APIRouter

from judge_service.api.deps import SessionDep, get_run
from judge_service.api.schemas import PreferenceStats, RunStats
from judge_service.db.queries import pair_ids, run_orders, verdict_rows
from judge_service.stats.preference import PreferenceSummary
from judge_service.stats.report import build_report

router = APIRouter(prefix="/v1/runs", tags=["stats"])


def _public(summary: PreferenceSummary) -> PreferenceStats:
    return PreferenceStats.model_validate(summary, from_attributes=True)


@router.get("/{run_id}/stats")
def run_stats(run_id: int, session: SessionDep) -> RunStats:
    run = get_run(session, run_id)
    report = build_report(
        pair_ids(session, run.id), verdict_rows(session, run.id), run.judges, len(run_orders(run))
    )
    panel = _public(report.panel)
    return RunStats(
        run_id=run.id,
        baseline=run.baseline,
        candidate=run.candidate,
        judges=run.judges,
        per_judge={judge: _public(summary) for judge, summary in report.per_judge.items()},
        panel=panel,
        **panel.model_dump(),
    )
