"""Rules the server enforces that depend on its settings, stated in its OpenAPI document.

Pydantic's schema states what a model knows; which judge names a request may give is the
operator's judges file. Stated as an enum on every request body's `judge` and `judges`, a
generated client offers only those names and a fuzzer's valid request is one the server
accepts (tests/api/test_fuzz.py). Responses are left alone: an old run may name a judge
the file no longer has.
"""

from typing import Any

from fastapi import FastAPI

from judge_service.config import Settings

REF = "#/components/schemas/"


def state_rules(app: FastAPI, settings: Settings) -> None:
    """Make `app.openapi()` name the configured judges wherever a request takes one."""
    build = app.openapi
    names = sorted(settings.all_judges)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = build()
            if names:
                schemas = document["components"]["schemas"]
                for schema in _request_bodies(document):
                    properties = schemas[schema].get("properties", {})
                    for prop in ("judge", "judges"):
                        if prop in properties:
                            _name_judges(properties[prop], names)
            return document  # FastAPI keeps it as `app.openapi_schema`
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend


def _request_bodies(document: dict[str, Any]) -> set[str]:
    """Names of the component schemas that are some operation's JSON request body."""
    return {
        body["content"]["application/json"]["schema"]["$ref"].removeprefix(REF)
        for item in document["paths"].values()
        for operation in item.values()
        if isinstance(operation, dict)
        and (body := operation.get("requestBody"))
        and "$ref" in body.get("content", {}).get("application/json", {}).get("schema", {})
    }


def _name_judges(prop: dict[str, Any], names: list[str]) -> None:
    """A judge name, or a list of them (in `anyOf` when optional), takes only `names`."""
    for variant in prop.get("anyOf", [prop]):
        if variant.get("type") == "array":
            variant["items"]["enum"] = names
        elif variant.get("type") == "string":
            variant["enum"] = names
