"""Error answers shared by the API and the dashboard.

`query_error`: the 422 a request gets for a query parameter its data refuses (an axis the
rubric lacks, a run that is not there), raised where that is found, services included,
shaped like FastAPI's own validation errors so clients read one format.

`method_not_allowed`: a 405 whose `Allow` names every method the path takes. Starlette
answers with the first route that matched the path alone, so a path served by two route
functions (GET and POST on `/v1/runs`) used to allow only one of them (RFC 9110, 15.5.6).
"""

from fastapi import Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import Match

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def query_error(name: str, msg: str) -> RequestValidationError:
    """A 422 shaped like FastAPI's own, naming the query parameter at fault."""
    return RequestValidationError([{"loc": ("query", name), "msg": msg, "type": "value_error"}])


def body_error(name: str, msg: str) -> RequestValidationError:
    """A 422 shaped like FastAPI's own, naming the body field at fault."""
    return RequestValidationError([{"loc": ("body", name), "msg": msg, "type": "value_error"}])


async def method_not_allowed(request: Request, exc: Exception) -> Response:
    """FastAPI's answer to `exc`; for a 405, with the path's methods in `Allow`."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        routes = request.app.router.routes
        allowed = [
            method
            for method in METHODS
            if any(
                route.matches({**request.scope, "method": method})[0] is Match.FULL
                for route in routes
            )
        ]
        if allowed:
            exc = HTTPException(405, exc.detail, headers={"Allow": ", ".join(allowed)})
    return await http_exception_handler(request, exc)
