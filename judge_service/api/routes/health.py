"""Liveness (the process answers) and readiness (its database and queue answer)."""

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import text

from judge_service.web.deps import DispatcherDep, SessionDep

router = APIRouter(tags=["health"])


class Readiness(BaseModel):
    ready: bool
    database: str = Field(description="ok, or why not")
    queue: str = Field(description="ok, or why not")


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    responses={
        200: {"model": Readiness},
        503: {"model": Readiness, "description": "The database or the queue does not answer"},
    },
)
def readyz(session: SessionDep, dispatcher: DispatcherDep) -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"unreachable: {type(exc).__name__}"
    try:
        checks["queue"] = "ok" if dispatcher.ready() else "not ready"
    except Exception as exc:
        checks["queue"] = f"unreachable: {type(exc).__name__}"
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse({"ready": ready, **checks}, status_code=200 if ready else 503)
