"""Pairs in: stored with their judgments, committed, and only then queued."""

import logging

import anyio
from fastapi import APIRouter, Request
from sqlalchemy.exc import IntegrityError
from starlette.datastructures import State

from judge_service.api.auth import AUTH_RESPONSES, ProjectDep
from judge_service.api.deps import RowId, get_run
from judge_service.api.limits import StrictJSONRoute
from judge_service.api.schemas import NO_RUN, TOO_LARGE, PairIn, PairsAccepted, PairsIn
from judge_service.db.models import Project, Run, RunMode
from judge_service.db.queries import IngestRun, insert_pairs
from judge_service.jobs.dispatch import Dispatcher

log = logging.getLogger(__name__)
router = APIRouter(
    prefix="/v1/runs", tags=["pairs"], route_class=StrictJSONRoute, responses=AUTH_RESPONSES
)


def dispatch_committed(dispatcher: Dispatcher, pair_ids: list[int], run: Run | IngestRun) -> int:
    """Queue pairs whose rows are committed; returns the number of jobs (0 if the queue failed).

    A batch-mode run queues nothing: the workers' batch step collects its pending judgments.
    """
    if run.mode == RunMode.BATCH:
        return 0
    try:
        return dispatcher.dispatch(pair_ids)
    except Exception:
        # The pairs and their pending judgments are committed: `judge-service
        # reconcile` queues them once the queue is back. Nothing is lost.
        # The pair ids are left out: up to 10,000 of them would make one line of ~60 KB.
        log.exception(
            "could not queue %d pairs",
            len(pair_ids),
            extra={"run_id": run.id, "pairs": len(pair_ids)},
        )
        return 0


@router.post("/{run_id}/pairs", status_code=202, responses={404: NO_RUN, 413: TOO_LARGE})
async def add_pairs(
    run_id: RowId, body: PairsIn, request: Request, project: ProjectDep
) -> PairsAccepted:
    """Async, so a post reaches the database and the queue in one hop to a worker thread.

    As a sync route with a session dependency it made four (session in, key, route, session
    out), each a wake-up of a thread and of the event loop. Posts take their turn through
    `ingest_limiter` (`JUDGE_INGEST_CONCURRENCY`), first come, first written.
    """
    state = request.app.state
    return await anyio.to_thread.run_sync(
        _add_pairs, state, run_id, body, project, limiter=state.ingest_limiter
    )


def _add_pairs(state: State, run_id: int, body: PairsIn, project: Project) -> PairsAccepted:
    first_of_each: dict[str, PairIn] = {}
    for pair in body.pairs:
        first_of_each.setdefault(pair.external_id, pair)
    rows = [
        {**pair.model_dump(exclude={"metadata"}), "meta": pair.metadata}
        for pair in first_of_each.values()
    ]
    with state.sessions() as session:
        run = state.ingest_runs.get(session, run_id, project)
        try:
            new_ids = insert_pairs(session, run, rows)
        except IntegrityError:
            # Its foreign key refused the pairs: the run was deleted since this process kept
            # it. Forgotten, it is a 404 like any missing run.
            session.rollback()
            state.ingest_runs.forget(run_id)
            get_run(session, run_id, project)
            raise
        session.commit()
    jobs = dispatch_committed(state.dispatcher, new_ids, run)
    return PairsAccepted(
        accepted=len(new_ids), duplicates=len(body.pairs) - len(new_ids), jobs=jobs
    )
