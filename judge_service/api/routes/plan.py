"""Planning: the pairs, judge calls, cost and human labels a conclusion needs, before a run."""

from fastapi import APIRouter

from judge_service.api.planner import make_plan
from judge_service.api.schemas import NO_RUN, PlanCreate, PlanPublic
from judge_service.web.auth import AUTH_RESPONSES, ProjectDep
from judge_service.web.deps import SessionDep, SettingsDep
from judge_service.web.limits import StrictJSONRoute

router = APIRouter(
    prefix="/v1/plan", tags=["plan"], route_class=StrictJSONRoute, responses=AUTH_RESPONSES
)


@router.post("", responses={404: NO_RUN})
def plan(
    body: PlanCreate, session: SessionDep, settings: SettingsDep, project: ProjectDep
) -> PlanPublic:
    """How many pairs to judge, what that costs, and how many of them people should label,
    for an interval of the asked half-width on the win rate. Nothing is judged or stored."""
    return make_plan(session, settings, project, body)
