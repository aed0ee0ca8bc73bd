"""`stop_when` on run creation: bad input is a 422 naming the field; good input is kept."""

from typing import Any

import httpx
import pytest

from tests.api.test_budget_input import RUN, _loc
from tests.conftest import create_run


@pytest.mark.parametrize(
    ("stop_when", "loc"),
    [
        ({"excludes": 0.5, "figure": "decisive_win_rate"}, ["body", "stop_when", "figure"]),
        ({"excludes": 1.5}, ["body", "stop_when", "excludes"]),
        ({"excludes": "half"}, ["body", "stop_when", "excludes"]),
        ({"half_width": 0}, ["body", "stop_when", "half_width"]),
        ({"half_width": 0.03, "confidence": 1.0}, ["body", "stop_when", "confidence"]),
        ({"excludes": 0.5, "after": 10}, ["body", "stop_when", "after"]),
        ({}, ["body", "stop_when"]),
        ({"excludes": 0.5, "half_width": 0.03}, ["body", "stop_when"]),
        ("soon", ["body", "stop_when"]),
    ],
)
def test_a_bad_stop_rule_is_422_naming_the_field(
    pg_api: httpx.Client, stop_when: Any, loc: list[str]
) -> None:
    assert _loc(pg_api.post("/v1/runs", json={**RUN, "stop_when": stop_when})) == loc


def test_a_batch_run_cannot_stop_when_decided(pg_api: httpx.Client) -> None:
    body = {**RUN, "mode": "batch", "stop_when": {"excludes": 0.5}}
    response = pg_api.post("/v1/runs", json=body)
    assert _loc(response) == ["body", "stop_when"]
    assert "live mode" in response.json()["detail"][0]["msg"]


def test_a_stop_rule_is_kept_with_its_defaults_and_copied_by_a_rerun(pg_api: httpx.Client) -> None:
    run = create_run(pg_api, ["sim"], stop_when={"half_width": 0.03})
    rule = {"excludes": None, "half_width": 0.03, "figure": "win_rate", "confidence": 0.95}
    assert run["stop_when"] == rule
    assert (run["stopped_at"], run["stop_reason"], run["counts"]["judgments_skipped"]) == (
        None,
        None,
        0,
    )
    again = pg_api.post(f"/v1/runs/{run['id']}/rerun")
    assert again.status_code == 201 and again.json()["stop_when"] == rule
    stats = pg_api.get(f"/v1/runs/{run['id']}/stats").raise_for_status().json()
    assert stats["sequential"] == {
        "rule": rule,
        "confidence": 0.95,
        "pairs": 0,
        "lower": None,
        "upper": None,
        "stopped": False,
        "stopped_at": None,
        "stopped_pairs": None,
        "reason": None,
    }
    plain = create_run(pg_api, ["sim"])
    assert plain["stop_when"] is None
    assert pg_api.get(f"/v1/runs/{plain['id']}/stats").json()["sequential"] is None
