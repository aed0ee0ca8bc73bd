"""The 422 a request gets for a query parameter its data refuses (an axis the rubric lacks,
a run that is not there): raised where that is found, services included, shaped like
FastAPI's own validation errors so clients read one format."""

from fastapi.exceptions import RequestValidationError


def query_error(name: str, msg: str) -> RequestValidationError:
    """A 422 shaped like FastAPI's own, naming the query parameter at fault."""
    return RequestValidationError([{"loc": ("query", name), "msg": msg, "type": "value_error"}])
