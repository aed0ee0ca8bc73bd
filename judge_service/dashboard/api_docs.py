"""The API's docs pages, /docs (Swagger UI) and /redoc, from assets this server holds.

FastAPI's own pages load Swagger UI and ReDoc from a public CDN, on the origin of the
signed-in dashboard, and run an inline script the Content-Security-Policy forbids. These load
the copies fastapi-standalone-docs ships (licences beside them), start Swagger UI from
our own static script, and work offline.
"""

from pathlib import Path

import fastapi_standalone_docs
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from judge_service.dashboard.routes import templates

VENDOR = Path(fastapi_standalone_docs.__path__[0]) / "static"
SWAGGER_ASSETS = VENDOR / "swagger"  # served at /docs/: swagger-ui-bundle.js, swagger-ui.css
REDOC_ASSETS = VENDOR / "redoc"  # served at /redoc/: its bundle asks for /redoc/logo-mini.svg

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)


@router.get("/docs")
def swagger_ui(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(
        request, "api_docs.html", {"ui": "swagger", "openapi_url": request.app.openapi_url}
    )


@router.get("/redoc")
def redoc(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(
        request, "api_docs.html", {"ui": "redoc", "openapi_url": request.app.openapi_url}
    )
