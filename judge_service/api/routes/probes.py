"""Probes of a run: re-judge a sample of its pairs with one controlled change, and the table
of how often each judge's verdicts moved (services/probes.py, docs/probes.md)."""

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from judge_service.api.routes.runs import run_public
from judge_service.api.schemas import NO_RUN, ProbesCreate, ProbesCreated, refused
from judge_service.db.queries import run_counts
from judge_service.jobs.dispatch import dispatch_committed
from judge_service.services.probes import ProbeTable, changed_judges, create_probes, probe_table
from judge_service.web.auth import AUTH_RESPONSES, ProjectDep
from judge_service.web.deps import DispatcherDep, RowId, SessionDep, SettingsDep, get_run
from judge_service.web.limits import StrictJSONRoute

PROBE_REFUSED = refused(
    "The run is itself a probe, or a judge of the run is not configured as when it was created"
)
router = APIRouter(
    prefix="/v1/runs", tags=["probes"], route_class=StrictJSONRoute, responses=AUTH_RESPONSES
)


@router.post("/{run_id}/probes", status_code=201, responses={404: NO_RUN, 409: PROBE_REFUSED})
def create(
    run_id: RowId,
    body: ProbesCreate,
    session: SessionDep,
    settings: SettingsDep,
    dispatcher: DispatcherDep,
    project: ProjectDep,
) -> ProbesCreated:
    """One probe run per kind over the same seeded sample of the run's pairs, judged by its
    judges; committed, then queued. Refused (409) when the run is itself a probe, or when a
    judge's configuration has changed since the run: a moved verdict could then be the
    configuration's doing."""
    source = get_run(session, run_id, project)
    if source.probe_of is not None:
        detail = f"run {source.id} is a probe of run {source.probe_of}: probe that run instead"
        raise HTTPException(status_code=409, detail=detail)
    changed = changed_judges(source, settings.all_judges)
    if changed:
        detail = f"judges {changed} of run {source.id} are configured differently now"
        raise HTTPException(status_code=409, detail=detail)
    made, seed = create_probes(session, source, body.probes, body.sample, body.seed)
    session.commit()
    for run, new_ids in made:
        dispatch_committed(dispatcher, new_ids, run)
    counts = run_counts(session, [run.id for run, _ in made])
    return ProbesCreated(
        seed=seed,
        sample=len(made[0][1]),
        runs=[run_public(run, counts[run.id]) for run, _ in made],
    )


@router.get("/{run_id}/probes", responses={404: NO_RUN})
def read(
    run_id: RowId,
    session: SessionDep,
    project: ProjectDep,
    confidence: Annotated[float, Query(ge=0.5, le=0.999)] = 0.95,
) -> ProbeTable:
    """Per probe kind, judge and axis: how often the verdict changed, with an interval."""
    return probe_table(session, get_run(session, run_id, project), confidence)
