"""Runs: create, list, read, rerun, retry what failed."""

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.exceptions import RequestValidationError
from sqlalchemy import select, update

from judge_service.api.schemas import (
    JUDGES_CHANGED,
    NO_RUN,
    TOO_LARGE,
    BatchPublic,
    EstimatePublic,
    RetryAccepted,
    RunCountsPublic,
    RunCreate,
    RunPublic,
    RunUpdate,
)
from judge_service.config import JudgeConfig
from judge_service.db.models import (
    Judgment,
    JudgmentStatus,
    ProviderBatch,
    Run,
    RunMode,
    utcnow,
)
from judge_service.db.queries import RunCounts, run_counts
from judge_service.db.rubrics import get_rubric
from judge_service.jobs.dispatch import dispatch_committed
from judge_service.jobs.estimate import estimate_run
from judge_service.judging.protocol import Scale
from judge_service.services.derived_runs import derive_run
from judge_service.text import Text
from judge_service.web.auth import AUTH_RESPONSES, ProjectDep
from judge_service.web.deps import DispatcherDep, RowId, SessionDep, SettingsDep, get_run
from judge_service.web.limits import StrictJSONRoute

router = APIRouter(
    prefix="/v1/runs", tags=["runs"], route_class=StrictJSONRoute, responses=AUTH_RESPONSES
)


def run_public(run: Run, counts: RunCounts) -> RunPublic:
    return RunPublic(
        id=run.id,
        name=run.name,
        baseline=run.baseline,
        candidate=run.candidate,
        judges=run.judges,
        swap=run.swap,
        rubric=run.rubric_name,
        rubric_version=run.rubric_version,
        scale=Scale(run.scale),
        strong_weight=run.strong_weight,
        mode=RunMode(run.mode),
        cache=run.cache,
        budget_usd=run.budget_usd,
        spent_usd=counts.spent_usd,
        status=counts.status,
        counts=RunCountsPublic(
            pairs=counts.pairs,
            judgments_expected=counts.judgments_expected,
            judgments_done=counts.judgments_done,
            judgments_failed=counts.judgments_failed,
            failed_by_reason=counts.failed_by_reason,
            judgments_skipped=counts.judgments_skipped,
        ),
        stop_when=run.stop_when,
        stopped_at=run.stopped_at,
        stop_reason=run.stop_reason,
        probe_of=run.probe_of,
        probe=run.probe,
        created_at=run.created_at,
    )


@router.post("", status_code=201, responses={413: TOO_LARGE})
def create_run(
    body: RunCreate, session: SessionDep, settings: SettingsDep, project: ProjectDep
) -> RunPublic:
    known = settings.all_judges
    errors = []
    for index, name in enumerate(body.judges):
        if name not in known:
            msg = f"unknown judge {name!r}; configured: {sorted(known)}"
            errors.append({"loc": ("body", "judges", index), "msg": msg, "type": "value_error"})
        elif body.judges.index(name) != index:
            msg = f"judge {name!r} is listed twice"
            errors.append({"loc": ("body", "judges", index), "msg": msg, "type": "value_error"})
    rubric = get_rubric(session, project.id, body.rubric, body.rubric_version)
    if rubric is None:
        wanted = body.rubric + (f" version {body.rubric_version}" if body.rubric_version else "")
        field = "rubric_version" if get_rubric(session, project.id, body.rubric) else "rubric"
        msg = f"unknown rubric {wanted!r}; see GET /v1/rubrics"
        errors.append({"loc": ("body", field), "msg": msg, "type": "value_error"})
    if body.mode is RunMode.BATCH and not settings.redis_url:
        msg = "batch mode needs RQ workers (JUDGE_REDIS_URL): this server judges in-process"
        errors.append({"loc": ("body", "mode"), "msg": msg, "type": "value_error"})
    if body.budget_usd is not None:
        errors += _unpriced(body.judges, known)
    if body.stop_when is not None and body.mode is RunMode.BATCH:
        # A batch is sent whole: there is no chunk to stop after, and its price is paid.
        msg = "stop_when needs live mode: a provider batch is judged, and billed, as a whole"
        errors.append({"loc": ("body", "stop_when"), "msg": msg, "type": "value_error"})
    if errors:
        raise RequestValidationError(errors)
    assert rubric is not None
    definition, version = rubric
    run = Run(
        project_id=project.id,
        name=body.name,
        baseline=body.baseline,
        candidate=body.candidate,
        judges=body.judges,
        swap=body.swap,
        rubric_name=definition.name,
        rubric_version=version,
        rubric=definition.as_json(),
        judge_configs={name: known[name].fingerprint() for name in body.judges},
        scale=body.scale,
        strong_weight=body.strong_weight,
        mode=body.mode,
        cache=body.cache,
        budget_usd=body.budget_usd,
        stop_when=body.stop_when.model_dump(exclude_none=True) if body.stop_when else None,
    )
    session.add(run)
    session.commit()
    return run_public(run, RunCounts(budget_usd=run.budget_usd))


def _unpriced(judges: list[str], known: dict[str, JudgeConfig]) -> list[dict[str, Any]]:
    """A budget counts stored costs: a judge without prices would spend without counting."""
    unpriced = [name for name in judges if name in known and known[name].cost_usd(0, 0) is None]
    if not unpriced:
        return []
    msg = f"a budget needs every judge priced; no input/output prices for {unpriced}"
    return [{"loc": ("body", "budget_usd"), "msg": msg, "type": "value_error"}]


def _same_judges(run: Run, known: dict[str, JudgeConfig]) -> None:
    """409 unless every judge of the run is configured as when the run was created.

    Judging more of a run with a changed judge would mix two measurements in one figure.
    """
    for name in run.judges:
        if name not in known:
            raise HTTPException(409, detail=f"judge {name!r} of run {run.id} is not configured")
        if run.judge_configs.get(name) != known[name].fingerprint():
            raise HTTPException(
                409,
                detail=f"judge {name!r} is configured differently than when run {run.id} was "
                f"created: {run.judge_configs.get(name)} then, {known[name].fingerprint()} now",
            )


@router.post("/{run_id}/rerun", status_code=201, responses={404: NO_RUN, 409: JUDGES_CHANGED})
def rerun(
    run_id: RowId,
    session: SessionDep,
    settings: SettingsDep,
    dispatcher: DispatcherDep,
    project: ProjectDep,
) -> RunPublic:
    """A new run with the same pairs, rubric version, scale, judges, budget and stop rule,
    judged afresh (the judgment cache off).

    Refused (409) when a judge's configuration has changed since: the rerun would
    not measure the same thing.
    """
    old = get_run(session, run_id, project)
    _same_judges(old, settings.all_judges)
    run, new_ids = derive_run(session, old, name=f"{old.name} (rerun of {old.id})")
    session.commit()
    dispatch_committed(dispatcher, new_ids, run)
    return run_public(run, run_counts(session, [run.id])[run.id])


@router.get("")
def list_runs(session: SessionDep, project: ProjectDep) -> list[RunPublic]:
    runs = session.scalars(
        select(Run).where(Run.project_id == project.id).order_by(Run.id.desc())
    ).all()
    counts = run_counts(session, [run.id for run in runs])
    return [run_public(run, counts[run.id]) for run in runs]


@router.get("/{run_id}", responses={404: NO_RUN})
def read_run(run_id: RowId, session: SessionDep, project: ProjectDep) -> RunPublic:
    run = get_run(session, run_id, project)
    return run_public(run, run_counts(session, [run.id])[run.id])


@router.patch("/{run_id}", responses={404: NO_RUN})
def update_run(
    run_id: RowId,
    body: RunUpdate,
    session: SessionDep,
    settings: SettingsDep,
    dispatcher: DispatcherDep,
    project: ProjectDep,
) -> RunPublic:
    """Change the run's budget; raised above its spend (or removed), the run resumes.

    Its pending judgments are queued again at once (a batch-mode run's go in its next
    batch), rather than waiting for the reconciler.
    """
    run = get_run(session, run_id, project)
    if body.budget_usd is not None:
        errors = _unpriced(run.judges, settings.all_judges)
        if errors:
            raise RequestValidationError(errors)
    run.budget_usd = body.budget_usd
    session.flush()
    counts = run_counts(session, [run.id])[run.id]
    pair_ids: list[int] = []
    if not counts.budget_exhausted:
        pending = (Judgment.run_id == run.id) & (Judgment.status == JudgmentStatus.PENDING)
        pair_ids = sorted(
            set(
                session.scalars(
                    update(Judgment)
                    .where(pending)
                    # The job queued below carries them: the reconciler leaves them to it.
                    .values(lease_expires_at=utcnow() + timedelta(seconds=settings.lease_s))
                    .returning(Judgment.pair_id)
                )
            )
        )
    session.commit()
    if pair_ids:
        dispatch_committed(dispatcher, pair_ids, run)
    return run_public(run, run_counts(session, [run.id])[run.id])


@router.post("/{run_id}/estimate", responses={404: NO_RUN})
def estimate(
    run_id: RowId, session: SessionDep, settings: SettingsDep, project: ProjectDep
) -> EstimatePublic:
    """Tokens and cost of judging what is left of the run, predicted without any call."""
    run = get_run(session, run_id, project)
    return EstimatePublic(**estimate_run(session, run, settings.all_judges).__dict__)


@router.post(
    "/{run_id}/retry-failed", status_code=202, responses={404: NO_RUN, 409: JUDGES_CHANGED}
)
def retry_failed(
    run_id: RowId,
    session: SessionDep,
    settings: SettingsDep,
    dispatcher: DispatcherDep,
    project: ProjectDep,
    reason: Annotated[
        Text | None, Query(max_length=40, description="Only calls that failed this way")
    ] = None,
) -> RetryAccepted:
    """Failed judge calls go back to pending and are queued again; done ones are untouched.

    Their rows stay (the (pair, judge, order) constraint): a retry rewrites the failure, it
    never adds a second judgment. A batch-mode run queues no job: its next batch takes them
    (one more batch each). 409 when a judge's configuration has changed since.
    """
    run = get_run(session, run_id, project)
    _same_judges(run, settings.all_judges)
    failed = (Judgment.run_id == run.id) & (Judgment.status == JudgmentStatus.FAILED)
    if reason is not None:
        failed &= Judgment.error_kind == reason
    pair_ids = session.scalars(
        update(Judgment)
        .where(failed)
        .values(
            status=JudgmentStatus.PENDING,
            claim_token=None,
            # The job queued below carries them: the reconciler leaves them to it for a lease.
            lease_expires_at=utcnow() + timedelta(seconds=settings.lease_s),
            error_kind=None,
            error=None,
        )
        .returning(Judgment.pair_id)
    ).all()
    session.commit()
    unique = sorted(set(pair_ids))
    jobs = dispatch_committed(dispatcher, unique, run) if unique else 0
    return RetryAccepted(requeued=len(pair_ids), pairs=len(unique), jobs=jobs)


@router.get("/{run_id}/batches", responses={404: NO_RUN})
def list_batches(run_id: RowId, session: SessionDep, project: ProjectDep) -> list[BatchPublic]:
    """The provider batches of a batch-mode run, oldest first (a live run has none)."""
    run = get_run(session, run_id, project)
    batches = session.scalars(
        select(ProviderBatch).where(ProviderBatch.run_id == run.id).order_by(ProviderBatch.id)
    )
    return [BatchPublic.model_validate(batch) for batch in batches]
