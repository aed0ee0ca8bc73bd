"""Pairs in: stored with their judgments, committed, and only then queued."""

from fastapi import APIRouter

from judge_service.api.deps import PairWriterDep
from judge_service.api.schemas import NO_RUN, TOO_LARGE, PairsAccepted, PairsIn
from judge_service.web.auth import AUTH_RESPONSES, ProjectDep
from judge_service.web.deps import RowId
from judge_service.web.limits import StrictJSONRoute

router = APIRouter(
    prefix="/v1/runs", tags=["pairs"], route_class=StrictJSONRoute, responses=AUTH_RESPONSES
)


@router.post("/{run_id}/pairs", status_code=202, responses={404: NO_RUN, 413: TOO_LARGE})
async def add_pairs(
    run_id: RowId, body: PairsIn, writer: PairWriterDep, project: ProjectDep
) -> PairsAccepted:
    """Async: the post waits on the event loop for its group's write (`api/pair_writer.py`)."""
    return await writer.add(run_id, body.pairs, project)
