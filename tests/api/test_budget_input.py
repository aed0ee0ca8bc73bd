"""Budgets and the cache flag on the API: bad input is a 422 naming the field."""

from typing import Any

import httpx
import pytest

from tests.conftest import create_run


def _loc(response: httpx.Response) -> list[Any]:
    assert response.status_code == 422, response.text
    return response.json()["detail"][0]["loc"]


RUN = {"name": "r", "baseline": "b", "candidate": "c", "judges": ["sim"]}


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"budget_usd": 0}, "budget_usd"),
        ({"budget_usd": -1.5}, "budget_usd"),
        ({"budget_usd": "lots"}, "budget_usd"),
        ({"budget_usd": 1e9}, "budget_usd"),
        ({"cache": "maybe"}, "cache"),
    ],
)
def test_bad_budget_or_cache_on_create_is_422(
    pg_api: httpx.Client, extra: dict[str, Any], field: str
) -> None:
    assert _loc(pg_api.post("/v1/runs", json={**RUN, **extra})) == ["body", field]


def test_a_budget_needs_priced_judges(pg_api: httpx.Client) -> None:
    """The session's judges have no prices: their calls would spend without counting."""
    response = pg_api.post("/v1/runs", json={**RUN, "budget_usd": 5})
    assert _loc(response) == ["body", "budget_usd"]
    assert "priced" in response.json()["detail"][0]["msg"]
    run = create_run(pg_api, ["sim"], cache=False)
    assert (run["cache"], run["budget_usd"], run["spent_usd"]) == (False, None, 0.0)
    assert _loc(pg_api.patch(f"/v1/runs/{run['id']}", json={"budget_usd": 5})) == [
        "body",
        "budget_usd",
    ]


def test_patch_takes_only_a_budget(pg_api: httpx.Client) -> None:
    run = create_run(pg_api, ["sim"])
    renamed = pg_api.patch(f"/v1/runs/{run['id']}", json={"name": "x", "budget_usd": None})
    assert _loc(renamed) == ["body", "name"]
    assert _loc(pg_api.patch(f"/v1/runs/{run['id']}", json={})) == ["body", "budget_usd"]
    cleared = pg_api.patch(f"/v1/runs/{run['id']}", json={"budget_usd": None})
    assert cleared.status_code == 200 and cleared.json()["budget_usd"] is None
    assert pg_api.patch("/v1/runs/999999999", json={"budget_usd": None}).status_code == 404
    assert pg_api.post("/v1/runs/999999999/estimate").status_code == 404
