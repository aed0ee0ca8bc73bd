"""Per-pair results: each pair's combined outcome per judge and for the panel.

`GET /stats` gives the figures; this gives the pairs behind them, so a client
can list the losses or break results down by its own metadata.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from judge_service.api.schemas import NO_RUN
from judge_service.db.pair_results import pair_outcomes_page
from judge_service.stats.preference import Outcome
from judge_service.web.auth import AUTH_RESPONSES, ProjectDep
from judge_service.web.deps import MAX_ROW_ID, RowId, SessionDep, get_run

router = APIRouter(prefix="/v1/runs", tags=["results"], responses=AUTH_RESPONSES)

MAX_PAGE = 1000


class PairResult(BaseModel):
    pair_id: int
    external_id: str
    metadata: dict[str, Any]
    per_judge: dict[str, Outcome | None] = Field(
        description="candidate, baseline, tie or inconsistent; null until all orders are done"
    )
    panel: Outcome | None = Field(
        description="Majority across judges (no majority is a tie); null until every judge has one"
    )


class PairResultsPage(BaseModel):
    items: list[PairResult]
    next_after_id: int | None = Field(description="Pass as after_id for the next page; null: last")


@router.get("/{run_id}/pairs", responses={404: NO_RUN})
def list_pair_results(
    run_id: RowId,
    session: SessionDep,
    project: ProjectDep,
    after_id: Annotated[
        int, Query(ge=0, le=MAX_ROW_ID, description="Return pairs with a larger pair_id")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = MAX_PAGE,
) -> PairResultsPage:
    run = get_run(session, run_id, project)
    page = pair_outcomes_page(session, run, after_id, limit)
    return PairResultsPage(
        items=[
            PairResult(
                pair_id=item.pair_id,
                external_id=item.external_id,
                metadata=item.metadata,
                per_judge=item.per_judge,
                panel=item.panel,
            )
            for item in page.items
        ],
        next_after_id=page.next_after_id,
    )
