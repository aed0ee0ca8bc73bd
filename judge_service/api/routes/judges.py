"""The judges the operator configured: names and models, never keys or endpoints."""

from fastapi import APIRouter, Depends

from judge_service.api.schemas import JudgePublic
from judge_service.web.auth import AUTH_RESPONSES, current_project
from judge_service.web.deps import SettingsDep

router = APIRouter(
    prefix="/v1/judges",
    tags=["judges"],
    dependencies=[Depends(current_project)],
    responses=AUTH_RESPONSES,
)


@router.get("")
def list_judges(settings: SettingsDep) -> list[JudgePublic]:
    return [
        JudgePublic(name=name, provider=judge.provider, model=judge.model)
        for name, judge in sorted(settings.all_judges.items())
    ]
