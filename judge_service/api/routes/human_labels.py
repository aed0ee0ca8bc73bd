"""Human preferences on pairs: the ground truth that judge agreement is measured against."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from judge_service.api.auth import AUTH_RESPONSES, ProjectDep
from judge_service.api.deps import RowId, SessionDep, get_pair
from judge_service.api.limits import StrictJSONRoute
from judge_service.api.schemas import TOO_LARGE, Text, refused
from judge_service.db.models import HumanLabel
from judge_service.judging.verdicts import Verdict

NO_PAIR = refused("No such pair")
router = APIRouter(
    prefix="/v1/pairs",
    tags=["human labels"],
    route_class=StrictJSONRoute,
    responses=AUTH_RESPONSES,
)


class HumanLabelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: Verdict = Field(description="baseline, candidate or tie")
    annotator: Annotated[Text, Field(min_length=1, max_length=100)]


class HumanLabelPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    pair_id: int
    run_id: int
    annotator: str
    label: Verdict
    created_at: datetime


@router.post(
    "/{pair_id}/human-labels",
    status_code=201,
    responses={
        200: {"description": "This annotator's earlier label was replaced"},
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
) -> HumanLabelPublic:
    pair = get_pair(session, pair_id, project)
    label = session.scalars(
        select(HumanLabel).where(
            HumanLabel.pair_id == pair.id, HumanLabel.annotator == body.annotator
        )
    ).first()
    if label is None:
        label = HumanLabel(pair_id=pair.id, run_id=pair.run_id, annotator=body.annotator)
        session.add(label)
    else:
        response.status_code = 200
    label.label = body.label
    session.commit()
    return HumanLabelPublic.model_validate(label)


@router.get("/{pair_id}/human-labels", responses={404: NO_PAIR})
def list_labels(pair_id: RowId, session: SessionDep, project: ProjectDep) -> list[HumanLabelPublic]:
    pair = get_pair(session, pair_id, project)
    labels = session.scalars(
        select(HumanLabel).where(HumanLabel.pair_id == pair.id).order_by(HumanLabel.id)
    )
    return [HumanLabelPublic.model_validate(label) for label in labels]
