"""`GET /v1/runs/{id}/pairs`: each pair's outcome per judge and for the panel.

Verdicts are written straight into PostgreSQL so every combination (agreeing
orders, a flip, a missing order, a failed call) is known exactly; the API then
has to combine them as `GET /stats` does.
"""

from typing import Any

import httpx

from judge_service.demo.sample import sample_pairs
from tests.api.plans import apply_plan
from tests.conftest import create_run

B, C = "baseline_first", "candidate_first"
S, A = "sim", "sim-anthropic"


def both(verdict: str) -> dict[str, str]:
    return {B: verdict, C: verdict}


# external_id -> judge -> order -> verdict ("failed": the call failed; absent: pending)
PLAN: dict[str, dict[str, dict[str, str]]] = {
    "med-0001": {S: both("candidate"), A: both("candidate")},
    "med-0002": {S: {B: "baseline", C: "candidate"}, A: both("baseline")},
    "med-0003": {S: both("tie"), A: {B: "tie"}},
    "med-0004": {S: both("candidate"), A: {B: "failed", C: "tie"}},
    "med-0005": {},
    "med-0006": {S: both("baseline"), A: both("baseline")},
    "med-0007": {S: both("candidate"), A: both("tie")},
}
EXPECTED: dict[str, tuple[dict[str, str | None], str | None]] = {
    "med-0001": ({"sim": "candidate", "sim-anthropic": "candidate"}, "candidate"),
    # one flip and one loss: no strict majority, so the panel calls it a tie
    "med-0002": ({"sim": "inconsistent", "sim-anthropic": "baseline"}, "tie"),
    "med-0003": ({"sim": "tie", "sim-anthropic": None}, None),
    "med-0004": ({"sim": "candidate", "sim-anthropic": None}, None),
    "med-0005": ({"sim": None, "sim-anthropic": None}, None),
    "med-0006": ({"sim": "baseline", "sim-anthropic": "baseline"}, "baseline"),
    "med-0007": ({"sim": "candidate", "sim-anthropic": "tie"}, "tie"),
}


def _all_items(api: httpx.Client, run_id: int, limit: int) -> tuple[list[dict[str, Any]], int]:
    items: list[dict[str, Any]] = []
    after: int | None = 0
    pages = 0
    while after is not None:
        response = api.get(f"/v1/runs/{run_id}/pairs", params={"after_id": after, "limit": limit})
        assert response.status_code == 200, response.text
        page = response.json()
        items.extend(page["items"])
        after = page["next_after_id"]
        pages += 1
    return items, pages


def test_outcomes_combine_orders_and_judges_like_stats(pg_api: httpx.Client, pg_url: str) -> None:
    run = create_run(pg_api, ["sim", "sim-anthropic"])
    pairs = sample_pairs(len(PLAN))
    pairs[0]["metadata"] = {"modality": "CT", "slice": 42, "contrast": True}
    assert pg_api.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": pairs}).status_code == 202
    apply_plan(pg_url, run["id"], PLAN)

    items, _ = _all_items(pg_api, run["id"], limit=1000)
    assert [item["external_id"] for item in items] == list(PLAN)
    assert items[0]["metadata"] == {"modality": "CT", "slice": 42, "contrast": True}
    for item in items:
        per_judge, panel = EXPECTED[item["external_id"]]
        assert (item["per_judge"], item["panel"]) == (per_judge, panel), item["external_id"]

    # The same outcomes as the run's figures, pair for pair.
    stats = pg_api.get(f"/v1/runs/{run['id']}/stats").json()
    panels = [item["panel"] for item in items]
    assert stats["wins"] == panels.count("candidate") == 1
    assert stats["losses"] == panels.count("baseline") == 1
    assert stats["ties"] == panels.count("tie") == 2
    assert stats["missing"] == panels.count(None) == 3
    for judge in ("sim", "sim-anthropic"):
        outcomes = [item["per_judge"][judge] for item in items]
        figures = stats["per_judge"][judge]
        assert figures["inconsistent"] == outcomes.count("inconsistent")
        assert figures["missing"] == outcomes.count(None)
        assert figures["n"] == len(outcomes) - outcomes.count(None)


def test_keyset_pages_cover_every_pair_once(pg_api: httpx.Client) -> None:
    run = create_run(pg_api, ["sim"], swap=False)
    pg_api.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": sample_pairs(23)})
    other = create_run(pg_api, ["sim"])  # interleaved ids from another run must not leak in
    pg_api.post(f"/v1/runs/{other['id']}/pairs", json={"pairs": sample_pairs(5)})
    pg_api.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": sample_pairs(30)[23:]})

    items, pages = _all_items(pg_api, run["id"], limit=7)
    assert pages == 5  # 30 pairs: 7 + 7 + 7 + 7 + 2
    assert [item["external_id"] for item in items] == [p["external_id"] for p in sample_pairs(30)]
    ids = [item["pair_id"] for item in items]
    assert ids == sorted(ids) and len(set(ids)) == 30
    # Nothing judged yet: every outcome is null, never a guess.
    assert all(item["panel"] is None and item["per_judge"] == {"sim": None} for item in items)

    exact = pg_api.get(f"/v1/runs/{run['id']}/pairs", params={"limit": 30}).json()
    assert len(exact["items"]) == 30 and exact["next_after_id"] is None
    tail = pg_api.get(f"/v1/runs/{run['id']}/pairs", params={"after_id": ids[-1]}).json()
    assert tail == {"items": [], "next_after_id": None}


def test_single_order_run_needs_one_verdict(pg_api: httpx.Client, pg_url: str) -> None:
    run = create_run(pg_api, ["sim"], swap=False)
    pg_api.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": sample_pairs(2)})
    apply_plan(pg_url, run["id"], {"med-0001": {"sim": {B: "baseline"}}})
    items = pg_api.get(f"/v1/runs/{run['id']}/pairs").json()["items"]
    assert [(i["per_judge"]["sim"], i["panel"]) for i in items] == [
        ("baseline", "baseline"),
        (None, None),
    ]


def test_refusals(pg_api: httpx.Client) -> None:
    missing = pg_api.get("/v1/runs/987654321/pairs")
    assert missing.status_code == 404 and "987654321" in missing.json()["detail"]
    run = create_run(pg_api, ["sim"])
    too_many = pg_api.get(f"/v1/runs/{run['id']}/pairs", params={"limit": 1001})
    assert too_many.status_code == 422
    assert too_many.json()["detail"][0]["loc"] == ["query", "limit"]
    negative = pg_api.get(f"/v1/runs/{run['id']}/pairs", params={"after_id": -1})
    assert negative.json()["detail"][0]["loc"] == ["query", "after_id"]
