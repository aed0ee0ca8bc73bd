"""Rubrics: list, read, register. Registering an edited rubric creates a new version.

A project sees the built-ins and its own rubrics only; another project's is a 404.
"""

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response

from judge_service.api.schemas import MAX_VERSION, TOO_LARGE, RubricPublic, refused
from judge_service.db.rubrics import get_rubric, list_rubrics, register_rubric
from judge_service.judging.rubrics import BUILTIN, RubricDefinition
from judge_service.text import Text
from judge_service.web.auth import AUTH_RESPONSES, ProjectDep
from judge_service.web.deps import SessionDep
from judge_service.web.limits import StrictJSONRoute

router = APIRouter(
    prefix="/v1/rubrics",
    tags=["rubrics"],
    route_class=StrictJSONRoute,
    responses=AUTH_RESPONSES,
)


def _public(rubric: RubricDefinition, version: int) -> RubricPublic:
    return RubricPublic(**rubric.model_dump(), version=version, builtin=rubric.name in BUILTIN)


@router.get("")
def rubrics(session: SessionDep, project: ProjectDep) -> list[RubricPublic]:
    return [_public(rubric, version) for rubric, version in list_rubrics(session, project.id)]


@router.get("/{name}", responses={404: refused("No such rubric, or no such version of it")})
def rubric(
    name: Text,
    session: SessionDep,
    project: ProjectDep,
    version: Annotated[
        int | None, Query(ge=1, le=MAX_VERSION, description="Default: the latest")
    ] = None,
) -> RubricPublic:
    found = get_rubric(session, project.id, name, version)
    if found is None:
        suffix = f" version {version}" if version else ""
        raise HTTPException(status_code=404, detail=f"rubric {name!r}{suffix} not found")
    return _public(*found)


@router.post(
    "",
    status_code=201,
    responses={
        200: {"description": "Identical to the latest"},
        409: refused("The name of a built-in rubric"),
        413: TOO_LARGE,
    },
)
def register(
    body: RubricDefinition, session: SessionDep, response: Response, project: ProjectDep
) -> RubricPublic:
    if body.name in BUILTIN:
        raise HTTPException(
            status_code=409,
            detail=f"rubric {body.name!r} is built in; register yours under another name",
        )
    version, created = register_rubric(session, project.id, body)
    session.commit()
    if not created:
        response.status_code = 200
    return _public(body, version)
