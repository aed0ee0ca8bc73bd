"""Signing in to the dashboard: an API key, checked once, then kept in an HttpOnly cookie.

The cookie is SameSite=Strict, so another site cannot make a browser use it, and the key
never appears in a URL (where proxies and logs would keep it).
"""

import unicodedata
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from judge_service.db.models import Project
from judge_service.db.projects import project_for_key
from judge_service.text import Text
from judge_service.web.auth import COOKIE, current_project
from judge_service.web.deps import SessionDep, SettingsDep
from judge_service.web.limits import StrictJSONRoute

COOKIE_MAX_AGE_S = 7 * 24 * 3600

router = APIRouter(include_in_schema=False, route_class=StrictJSONRoute)


def safe_next(target: str | None) -> str:
    """Only a path on this site: `next` must not send a signed-in browser elsewhere.

    Judged as a browser reads it: browsers drop tabs and line breaks anywhere and strip
    leading spaces, so "/<tab>/evil.example" is "//evil.example", another host, as are paths
    starting with a slash and a backslash. A target holding a control character is refused.
    """
    if not target or any(unicodedata.category(char) == "Cc" for char in target):
        return "/"
    path = target.strip(" ")
    if not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    parts = urlsplit(path)
    return "/" if parts.scheme or parts.netloc else path


async def _viewer(request: Request, settings: SettingsDep) -> Project:
    """The caller's project; a page asked for without a key leads to the sign-in page."""
    try:
        return await current_project(request, settings)
    except HTTPException as refused:
        if refused.status_code != 401:
            raise
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        location = f"/login?next={quote(here, safe='')}"
        raise HTTPException(status_code=303, headers={"Location": location}) from None


Viewer = Annotated[Project, Depends(_viewer)]


class SignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    api_key: Annotated[Text, Field(min_length=1, max_length=200)]


@router.post("/session", status_code=204)
def sign_in(body: SignIn, request: Request, session: SessionDep) -> Response:
    if project_for_key(session, body.api_key) is None:
        raise HTTPException(status_code=401, detail="unknown or revoked API key")
    response = Response(status_code=204)
    response.set_cookie(
        COOKIE,
        body.api_key,
        max_age=COOKIE_MAX_AGE_S,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.delete("/session", status_code=204)
def sign_out() -> Response:
    response = Response(status_code=204)
    response.delete_cookie(COOKIE, httponly=True, samesite="strict")
    return response
