"""Drift: a judge's reference set, and checks that re-judge it (services/drift.py)."""

from fastapi import APIRouter

from judge_service.api.schemas import (
    NO_DRIFT_REFERENCE,
    NO_RUN,
    DriftCheckCreate,
    DriftReferenceCreate,
    refused,
)
from judge_service.jobs.dispatch import dispatch_committed
from judge_service.services.drift import (
    DriftCheckPublic,
    DriftReferencePublic,
    check_report,
    register_reference,
    start_check,
)
from judge_service.web.auth import AUTH_RESPONSES, ProjectDep
from judge_service.web.deps import DispatcherDep, RowId, SessionDep, SettingsDep
from judge_service.web.limits import StrictJSONRoute

router = APIRouter(
    prefix="/v1/drift", tags=["drift"], route_class=StrictJSONRoute, responses=AUTH_RESPONSES
)


@router.post("/references", status_code=201, responses={404: NO_RUN})
def create_reference(
    body: DriftReferenceCreate, session: SessionDep, settings: SettingsDep, project: ProjectDep
) -> DriftReferencePublic:
    """The pairs the judge's drift checks re-judge from now on (its newest reference)."""
    return register_reference(
        session,
        project,
        settings.all_judges,
        run_id=body.run_id,
        judge=body.judge,
        sample=body.sample,
        seed=body.seed,
    )


@router.post("/checks", status_code=201, responses={409: NO_DRIFT_REFERENCE})
def create_check(
    body: DriftCheckCreate,
    session: SessionDep,
    settings: SettingsDep,
    dispatcher: DispatcherDep,
    project: ProjectDep,
) -> DriftCheckPublic:
    """Re-judge the judge's reference set now (committed, then queued, as a rerun is)."""
    check, run, pair_ids = start_check(session, project, settings.all_judges, body.judge)
    dispatch_committed(dispatcher, pair_ids, run)
    return check_report(session, project, check.id)


@router.get("/checks/{check_id}", responses={404: refused("No such drift check")})
def read_check(check_id: RowId, session: SessionDep, project: ProjectDep) -> DriftCheckPublic:
    """The check; once its run is done, the comparison with the check before it."""
    return check_report(session, project, check_id)
