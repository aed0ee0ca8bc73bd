"""Human preferences on pairs: the ground truth that judge agreement is measured against.

A label sent with an API key is recorded under that key: its annotator (`keys create
--annotator alice`) or, without one, `key:<prefix>`, so nobody writes or replaces another
person's label. A request without a key reaches a pair only on an open server (loopback
only: one person's laptop or the demo); there the body's `annotator` names who labels.
"""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field

from judge_service.api.schemas import TOO_LARGE, refused
from judge_service.db.models import LabelSource
from judge_service.judging.verdicts import Verdict
from judge_service.services.labels import key_identity, labels_of, record_label
from judge_service.text import Text
from judge_service.web.auth import AUTH_RESPONSES, ProjectDep, request_key
from judge_service.web.deps import RowId, SessionDep, get_pair
from judge_service.web.limits import StrictJSONRoute

NO_PAIR = refused("No such pair")
router = APIRouter(
    prefix="/v1/pairs",
    tags=["human labels"],
    route_class=StrictJSONRoute,
    responses=AUTH_RESPONSES,
)


class HumanLabelIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # 0 is not false: as the schema says

    label: Verdict = Field(strict=False, description="baseline, candidate or tie")
    annotator: Annotated[
        Text | None,
        Field(
            min_length=1,
            max_length=100,
            description="With API keys: optional, and if given the key's own annotator. "
            "On an open server: required, whoever is labelling.",
        ),
    ] = None


class HumanLabelPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    pair_id: int
    run_id: int
    annotator: str
    label: Verdict
    source: LabelSource = Field(
        description="queue: the label queue handed this annotator the pair (counts in the "
        "calibrated win rate); ad_hoc: labelled outside it (counts for agreement only)"
    )
    created_at: datetime


@router.post(
    "/{pair_id}/human-labels",
    status_code=201,
    responses={
        200: {"description": "This annotator's earlier label was replaced"},
        403: refused("`annotator` names someone other than the key's annotator"),
        404: NO_PAIR,
        413: TOO_LARGE,
    },
)
def add_label(
    pair_id: RowId,
    body: HumanLabelIn,
    session: SessionDep,
    response: Response,
    project: ProjectDep,
    request: Request,
) -> HumanLabelPublic:
    pair = get_pair(session, pair_id, project)
    identity = key_identity(session, request_key(request), project)
    label, created = record_label(session, pair, annotator_of(identity, body.annotator), body.label)
    if not created:
        response.status_code = 200
    return HumanLabelPublic.model_validate(label)


def annotator_of(identity: str | None, named: str | None, where: str = "body") -> str:
    """Who labels: the key's annotator, or on an open server whoever the request names."""
    if identity is None:
        if named is None:
            msg = "who is labelling: this request has no API key to tell"
            raise RequestValidationError(
                [{"loc": (where, "annotator"), "msg": msg, "type": "missing"}]
            )
        return named
    if named is not None and named != identity:
        raise HTTPException(
            status_code=403,
            detail=f"annotator {named!r}: this API key labels as {identity!r} only; "
            "leave annotator out or send that",
        )
    return identity


@router.get("/{pair_id}/human-labels", responses={404: NO_PAIR})
def list_labels(pair_id: RowId, session: SessionDep, project: ProjectDep) -> list[HumanLabelPublic]:
    pair = get_pair(session, pair_id, project)
    return [HumanLabelPublic.model_validate(label) for label in labels_of(session, pair)]
