"""The label queue: which pairs a person should label next, so their labels correct the judge."""

from typing import Annotated

import numpy as np
from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field

from judge_service.api.routes.human_labels import annotator_of
from judge_service.api.schemas import NO_RUN, refused
from judge_service.labelling.queue import QueueRefused, next_pairs
from judge_service.services.labels import key_identity
from judge_service.stats.label_design import Strategy
from judge_service.text import Text
from judge_service.web.auth import AUTH_RESPONSES, ProjectDep, request_key
from judge_service.web.deps import RowId, SessionDep, get_run

router = APIRouter(prefix="/v1/runs", tags=["human labels"], responses=AUTH_RESPONSES)


class LabelQueue(BaseModel):
    run_id: int
    annotator: str
    strategy: Strategy
    pair_ids: list[int] = Field(
        description="Pairs to label, in this order; post each label to "
        "/v1/pairs/{pair_id}/human-labels. Pairs handed out earlier and not labelled come first."
    )
    population: int = Field(description="Pairs the new draws came from (0: none were needed)")
    draws: int = Field(
        description="Draws stored by this request, including those a label this annotator "
        "already gave answers"
    )


@router.get(
    "/{run_id}/label-queue",
    responses={
        403: refused("`annotator` names someone other than the key's annotator"),
        404: NO_RUN,
        409: refused("The run is still being judged, or has no decided pair"),
    },
)
def label_queue(
    run_id: RowId,
    session: SessionDep,
    project: ProjectDep,
    request: Request,
    n: Annotated[int, Query(ge=1, le=100, description="How many pairs")] = 10,
    annotator: Annotated[
        Text | None,
        Query(
            min_length=1,
            max_length=100,
            description="With API keys: optional, and if given the key's own annotator. "
            "On an open server: required.",
        ),
    ] = None,
    strategy: Annotated[
        Strategy,
        Query(
            description="active: favour pairs whose judge outcome is least certain; "
            "uniform: every pair alike. Either keeps the calibrated estimate unbiased."
        ),
    ] = Strategy.ACTIVE,
) -> LabelQueue:
    run = get_run(session, run_id, project)
    who = annotator_of(
        key_identity(session, request_key(request), project), annotator, where="query"
    )
    try:
        batch = next_pairs(session, run, who, n, strategy, np.random.default_rng())
    except QueueRefused as refusal:
        raise HTTPException(status_code=409, detail=str(refusal)) from refusal
    return LabelQueue(
        run_id=run.id,
        annotator=who,
        strategy=batch.strategy,
        pair_ids=batch.pair_ids,
        population=batch.population,
        draws=batch.draws,
    )
