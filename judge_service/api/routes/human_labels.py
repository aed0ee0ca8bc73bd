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
from sqlalchemy import select
from sqlalchemy.orm import Session

from judge_service.api.auth import AUTH_RESPONSES, ProjectDep, request_key
from judge_service.api.deps import RowId, SessionDep, get_pair
from judge_service.api.limits import StrictJSONRoute
from judge_service.api.schemas import TOO_LARGE, Text, refused
from judge_service.db.label_draws import has_draw
from judge_service.db.models import HumanLabel, LabelSource, Project
from judge_service.db.projects import key_annotator
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
    annotator = annotator_of(key_identity(request, session, project), body.annotator)
    label = session.scalars(
        select(HumanLabel).where(HumanLabel.pair_id == pair.id, HumanLabel.annotator == annotator)
    ).first()
    if label is None:
        label = HumanLabel(pair_id=pair.id, run_id=pair.run_id, annotator=annotator)
        session.add(label)
    else:
        response.status_code = 200
    label.label = body.label
    queued = has_draw(session, pair.id, annotator)
    label.source = LabelSource.QUEUE if queued else LabelSource.AD_HOC
    session.commit()
    return HumanLabelPublic.model_validate(label)


def key_identity(request: Request, session: Session, project: Project) -> str | None:
    """Whom the caller's labels are recorded under; None when no key of the project was sent.

    A request reaches a project's pair without a key of that project only on an open
    server (no keys checked), where the body names the annotator.
    """
    key = request_key(request)
    return key_annotator(session, key, project.id) if key is not None else None


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
    labels = session.scalars(
        select(HumanLabel).where(HumanLabel.pair_id == pair.id).order_by(HumanLabel.id)
    )
    return [HumanLabelPublic.model_validate(label) for label in labels]
