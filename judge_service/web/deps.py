"""Request-scoped dependencies, as `Annotated` aliases the routes can name."""

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request
from sqlalchemy.orm import Session, sessionmaker

from judge_service.config import Settings
from judge_service.db.models import Pair, Project, Run
from judge_service.jobs.dispatch import Dispatcher
from judge_service.web.state import AppState, state_of

# Ids are bigint columns: a larger number is no id, and PostgreSQL refuses to compare a
# column with it.
MAX_ROW_ID = 2**63 - 1


def _session(request: Request) -> Iterator[Session]:
    with state_of(request.app, AppState).sessions() as session:
        yield session


# Async because they never block: FastAPI runs a sync dependency on a worker thread,
# a thread hop per dependency per request.
async def _sessions(request: Request) -> sessionmaker[Session]:
    return state_of(request.app, AppState).sessions


async def _settings(request: Request) -> Settings:
    return state_of(request.app, AppState).settings


async def _dispatcher(request: Request) -> Dispatcher:
    return state_of(request.app, AppState).dispatcher


SessionDep = Annotated[Session, Depends(_session)]
# For a session of its own: a streamed response outlives the request's.
SessionsDep = Annotated[sessionmaker[Session], Depends(_sessions)]
SettingsDep = Annotated[Settings, Depends(_settings)]
DispatcherDep = Annotated[Dispatcher, Depends(_dispatcher)]
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]


def get_run(session: Session, run_id: int, project: Project) -> Run:
    """The run, if it belongs to the caller's project; another project's run is not found."""
    run = session.get(Run, run_id)
    if run is None or run.project_id != project.id:
        raise run_not_found(run_id)
    return run


def run_not_found(run_id: int) -> HTTPException:
    return HTTPException(status_code=404, detail=f"run {run_id} not found")


def get_pair(session: Session, pair_id: int, project: Project) -> Pair:
    """The pair, if its run belongs to the caller's project."""
    pair = session.get(Pair, pair_id)
    if pair is None or pair.run.project_id != project.id:
        raise HTTPException(status_code=404, detail=f"pair {pair_id} not found")
    return pair
