"""Text PostgreSQL can store: no NUL character.

JSON can carry one (`\\u0000`) and so can a query string or a path (`%00`);
PostgreSQL's text and jsonb cannot hold it. Refusing it during validation gives a
422 naming the field instead of a 500 at the database. (The other string
PostgreSQL refuses, an unpaired surrogate, only arrives as a JSON escape and is
refused when the body is parsed: judge_service/web/limits.py.)
"""

from typing import Annotated

from pydantic import AfterValidator, Field


def storable(value: str) -> str:
    """`value`, if PostgreSQL can store it."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


# Stated in the OpenAPI document too, so clients and fuzzers know: "matches no NUL", which
# fuzzers handle where the equivalent `^[^\x00]*$` on long strings defeats them.
NO_NUL: dict[str, object] = {"not": {"pattern": r"\x00"}}
Text = Annotated[str, AfterValidator(storable), Field(json_schema_extra=NO_NUL)]
