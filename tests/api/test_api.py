"""The HTTP contract, over a real socket, on PostgreSQL with the RQ dispatcher.

No worker consumes this session's queue here: these tests are about what the
API accepts, refuses and reports, not about judging.
"""

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from judge_service.db.engine import session_factory
from judge_service.db.models import Pair
from judge_service.demo.sample import sample_pairs
from tests.conftest import create_run


def pairs_body(count: int, start: int = 0) -> dict[str, Any]:
    return {"pairs": sample_pairs(start + count)[start:]}


def test_create_and_read_run(pg_api: httpx.Client) -> None:
    run = create_run(pg_api, ["sim"])
    assert run["status"] == "pending"
    assert run["counts"] == {
        "pairs": 0,
        "judgments_expected": 0,
        "judgments_done": 0,
        "judgments_failed": 0,
        "failed_by_reason": {},
        "judgments_skipped": 0,
    }
    read = pg_api.get(f"/v1/runs/{run['id']}").json()
    assert read["id"] == run["id"] and read["judges"] == ["sim"] and read["swap"] is True
    assert run["id"] in [r["id"] for r in pg_api.get("/v1/runs").json()]


def test_pairs_are_idempotent_on_external_id(pg_api: httpx.Client) -> None:
    run = create_run(pg_api, ["sim", "sim-anthropic"])
    first = pg_api.post(f"/v1/runs/{run['id']}/pairs", json=pairs_body(25))
    assert first.status_code == 202
    assert first.json()["accepted"] == 25 and first.json()["duplicates"] == 0
    assert first.json()["jobs"] == 3  # chunks of 10

    again = pg_api.post(f"/v1/runs/{run['id']}/pairs", json=pairs_body(30)).json()
    assert (again["accepted"], again["duplicates"]) == (5, 25)
    counts = pg_api.get(f"/v1/runs/{run['id']}").json()["counts"]
    assert counts["pairs"] == 30
    assert counts["judgments_expected"] == 30 * 2 * 2


def test_pair_fields_are_stored_as_sent(pg_api: httpx.Client, pg_url: str) -> None:
    run = create_run(pg_api, ["sim"])
    pair = {
        **sample_pairs(1)[0],
        "image_urls": ["https://example.org/ct.png"],
        "metadata": {"modality": "CT", "slice": 42, "contrast": True},
        "baseline_trace": "Beyond ASCII: 肺 ✓",
    }
    pg_api.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": [pair]})
    with session_factory(pg_url)() as session:
        stored = session.scalars(select(Pair).where(Pair.run_id == run["id"])).one()
    assert stored.meta == {"modality": "CT", "slice": 42, "contrast": True}
    assert stored.image_urls == ["https://example.org/ct.png"]
    assert (stored.question, stored.reference_answer) == (
        pair["question"],
        pair["reference_answer"],
    )
    assert stored.candidate_trace == pair["candidate_trace"]
    # Lengths for the length-bias statistics, in characters (17 here, 21 UTF-8 bytes).
    assert (stored.baseline_chars, stored.candidate_chars) == (17, len(pair["candidate_trace"]))


def test_duplicate_within_one_request(pg_api: httpx.Client) -> None:
    run = create_run(pg_api, ["sim"], swap=False)
    pair = sample_pairs(1)[0]
    body = {"pairs": [pair, {**pair, "candidate_trace": "changed"}]}
    result = pg_api.post(f"/v1/runs/{run['id']}/pairs", json=body).json()
    assert (result["accepted"], result["duplicates"]) == (1, 1)
    assert pg_api.get(f"/v1/runs/{run['id']}").json()["counts"]["judgments_expected"] == 1


def test_unknown_run_is_404(pg_api: httpx.Client) -> None:
    assert pg_api.get("/v1/runs/987654321").status_code == 404
    assert pg_api.get("/v1/runs/987654321/stats").status_code == 404
    assert pg_api.get("/v1/runs/987654321/judgments").status_code == 404
    response = pg_api.post("/v1/runs/987654321/pairs", json=pairs_body(1))
    assert response.status_code == 404
    assert "987654321" in response.json()["detail"]


def _error_locs(response: httpx.Response) -> list[list[Any]]:
    assert response.status_code == 422, response.text
    return [error["loc"] for error in response.json()["detail"]]


def test_unknown_judge_is_named(pg_api: httpx.Client) -> None:
    body = {"name": "x", "baseline": "b", "candidate": "c", "judges": ["sim", "gpt-99"]}
    locs = _error_locs(pg_api.post("/v1/runs", json=body))
    assert locs == [["body", "judges", 1]]


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        ({"question": None}, ["body", "pairs", 0, "question"]),
        ({"baseline_trace": ""}, ["body", "pairs", 0, "baseline_trace"]),
        ({"candidate_trace": "bad\x00byte"}, ["body", "pairs", 0, "candidate_trace"]),
        ({"metadata": {"modality": {"nested": 1}}}, ["body", "pairs", 0, "metadata", "modality"]),
        ({"surprise": 1}, ["body", "pairs", 0, "surprise"]),
    ],
)
def test_bad_pair_is_422_naming_the_field(
    pg_api: httpx.Client, change: dict[str, Any], loc: list[Any]
) -> None:
    run = create_run(pg_api, ["sim"])
    pair = {**sample_pairs(1)[0], **change}
    locs = _error_locs(pg_api.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": [pair]}))
    assert any(found[: len(loc)] == loc for found in locs), locs
    assert pg_api.get(f"/v1/runs/{run['id']}").json()["counts"]["pairs"] == 0


def test_empty_and_malformed_bodies(pg_api: httpx.Client) -> None:
    run = create_run(pg_api, ["sim"])
    assert _error_locs(pg_api.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": []})) == [
        ["body", "pairs"]
    ]
    response = pg_api.post(
        f"/v1/runs/{run['id']}/pairs",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422


def test_judges_list_names_and_models_never_keys(pg_api: httpx.Client) -> None:
    judges = pg_api.get("/v1/judges").json()
    assert {j["name"] for j in judges} == {"sim", "sim-anthropic"}
    assert all(set(j) == {"name", "provider", "model"} for j in judges)
    assert "simulated-test-key" not in pg_api.get("/v1/judges").text


def test_health_and_readiness(pg_api: httpx.Client) -> None:
    assert pg_api.get("/healthz").json() == {"status": "ok"}
    ready = pg_api.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"ready": True, "database": "ok", "queue": "ok"}


def test_openapi_docs_are_served(pg_api: httpx.Client) -> None:
    assert pg_api.get("/docs").status_code == 200
    paths = pg_api.get("/openapi.json").json()["paths"]
    assert {"/v1/runs", "/v1/runs/{run_id}/pairs", "/v1/runs/{run_id}/stats"} <= set(paths)
