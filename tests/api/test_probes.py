"""Probes over HTTP on PostgreSQL: probe runs linked to their source, each with its one change;
the probe table from known verdicts; bad input named; another project's run not found.

No worker reads this session's queue here: verdicts are written straight into the rows
(tests/api/plans.py), so every figure of the table is known exactly.
"""

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, select

from judge_service.app import create_app
from judge_service.background import BackgroundServer
from judge_service.config import Settings
from judge_service.db.engine import session_factory
from judge_service.db.models import Pair, Run
from judge_service.demo.sample import sample_pairs
from judge_service.judging.probes import split_trace
from tests.api.plans import B, C, apply_plan
from tests.api.test_auth import client, locked, new_key
from tests.conftest import create_run

__all__ = ["locked"]  # the fixture: an app that requires keys
IMAGE = "https://img.example/scan.png"


@pytest.fixture
def made(pg_url: str) -> Iterator[list[int]]:
    runs: list[int] = []
    yield runs
    with session_factory(pg_url).begin() as session:
        session.execute(delete(Run).where(Run.id.in_(runs)))


def _source(api: httpx.Client, made: list[int], n: int = 10) -> dict[str, Any]:
    run = create_run(api, ["sim"], rubric="reasoning-trace")
    made.append(run["id"])
    pairs = [pair | {"image_urls": [IMAGE]} for pair in sample_pairs(n)]
    assert api.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": pairs}).status_code == 202
    return run


def _pairs(pg_url: str, run_id: int) -> dict[str, Pair]:
    with session_factory(pg_url)() as session:
        rows = session.scalars(select(Pair).where(Pair.run_id == run_id)).all()
        return {pair.external_id: pair for pair in rows}


def test_probe_runs_copy_one_sample_with_one_change_each(
    pg_api: httpx.Client, pg_url: str, made: list[int]
) -> None:
    source = _source(pg_api, made)
    body = {"probes": ["drop_images", "swap_answers"], "sample": 6, "seed": 3}
    response = pg_api.post(f"/v1/runs/{source['id']}/probes", json=body)
    assert response.status_code == 201, response.text
    created = response.json()
    assert (created["seed"], created["sample"]) == (3, 6)
    drop, swap = created["runs"]
    for run, kind in ((drop, "drop_images"), (swap, "swap_answers")):
        assert (run["probe_of"], run["probe"]) == (source["id"], kind)
        assert run["judges"] == ["sim"] and run["cache"] is False
        assert run["counts"]["pairs"] == 6
    original = _pairs(pg_url, source["id"])
    dropped, swapped = _pairs(pg_url, drop["id"]), _pairs(pg_url, swap["id"])
    assert set(dropped) == set(swapped) < set(original)  # one sample for both
    for key, pair in dropped.items():
        assert pair.image_urls == [] and original[key].image_urls == [IMAGE]
        assert pair.baseline_trace == original[key].baseline_trace
    for key, pair in swapped.items():
        before = original[key]
        assert split_trace(pair.baseline_trace)[1] == split_trace(before.candidate_trace)[1]
        assert split_trace(pair.candidate_trace)[1] == split_trace(before.baseline_trace)[1]
        assert pair.image_urls == [IMAGE]
    # The same seed draws the same sample; the run list shows which runs are probes.
    again = pg_api.post(f"/v1/runs/{source['id']}/probes", json=body | {"probes": ["pad_length"]})
    made.extend(run["id"] for run in created["runs"] + again.json()["runs"])
    assert set(_pairs(pg_url, again.json()["runs"][0]["id"])) == set(dropped)
    listed = {run["id"]: run for run in pg_api.get("/v1/runs").json()}
    assert listed[drop["id"]]["probe_of"] == source["id"]
    assert listed[source["id"]]["probe_of"] is None
    capped = pg_api.post(f"/v1/runs/{source['id']}/probes", json={"probes": ["drop_images"]})
    made.extend(run["id"] for run in capped.json()["runs"])
    assert capped.json()["sample"] == 10  # the default 50, capped at the run's pairs


def test_the_table_counts_changed_verdicts_and_their_direction(
    pg_api: httpx.Client, pg_url: str, made: list[int]
) -> None:
    source = _source(pg_api, made, n=8)
    response = pg_api.post(
        f"/v1/runs/{source['id']}/probes", json={"probes": ["drop_images"], "sample": 8}
    )
    probe = response.json()["runs"][0]
    made.append(probe["id"])
    keys = sorted(_pairs(pg_url, source["id"]))
    both = {B: "candidate", C: "candidate"}
    apply_plan(pg_url, source["id"], {key: {"sim": both} for key in keys})
    after = {key: {"sim": both} for key in keys[:5]}  # 5 unchanged
    after[keys[5]] = {"sim": {B: "baseline", C: "baseline"}}  # toward the baseline
    after[keys[6]] = {"sim": {B: "tie", C: "tie"}}  # toward the baseline
    after[keys[7]] = {"sim": {B: "candidate", C: "tie"}}  # inconsistent: toward the baseline
    apply_plan(pg_url, probe["id"], after)

    table = pg_api.get(f"/v1/runs/{source['id']}/probes").json()
    assert table["probes"] == [
        {"run_id": probe["id"], "probe": "drop_images", "pairs": 8, "status": "done"}
    ]
    overall = next(row for row in table["rows"] if row["axis"] is None)
    assert (overall["judge"], overall["n"], overall["changed"]) == ("sim", 8, 3)
    assert overall["changed_share"] == pytest.approx(3 / 8)
    low, high = overall["changed_ci"]
    assert low < 3 / 8 < high
    assert (overall["toward_candidate"], overall["toward_baseline"]) == (0, 3)
    assert overall["reading"].startswith(
        "sim: verdict unchanged in 62% of 8 pairs when the images were removed"
    )
    # Axes without stored axis verdicts compare nothing, and say so.
    axis_rows = [row for row in table["rows"] if row["axis"] is not None]
    assert axis_rows and all(row["n"] == 0 for row in axis_rows)
    # A run without probes has an empty table.
    empty = pg_api.get(f"/v1/runs/{probe['id']}/probes").json()
    assert (empty["probes"], empty["rows"]) == ([], [])


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"probes": ["drop_image"]}, ["body", "probes", 0]),
        ({"probes": []}, ["body", "probes"]),
        ({"probes": ["pad_length", "pad_length"]}, ["body", "probes"]),
        ({"probes": ["pad_length"], "sample": 0}, ["body", "sample"]),
        ({"probes": ["pad_length"], "sample": -3}, ["body", "sample"]),
        ({"probes": ["pad_length"], "seed": -1}, ["body", "seed"]),
        ({"probes": ["pad_length"], "seed": False}, ["body", "seed"]),
        ({"probes": ["pad_length"], "sample": "5"}, ["body", "sample"]),
        ({"probes": ["pad_length"], "colour": "red"}, ["body", "colour"]),
    ],
)
def test_bad_input_is_422_naming_the_field(
    pg_api: httpx.Client, made: list[int], body: dict[str, Any], loc: list[Any]
) -> None:
    source = create_run(pg_api, ["sim"])
    made.append(source["id"])
    response = pg_api.post(f"/v1/runs/{source['id']}/probes", json=body)
    assert response.status_code == 422, response.text
    assert [error["loc"] for error in response.json()["detail"]] == [loc]


def test_a_probe_run_is_not_probed_again(
    pg_api: httpx.Client, pg_url: str, made: list[int]
) -> None:
    source = _source(pg_api, made, n=3)
    probe = pg_api.post(f"/v1/runs/{source['id']}/probes", json={"probes": ["drop_images"]})
    made.append(probe.json()["runs"][0]["id"])
    again = pg_api.post(
        f"/v1/runs/{probe.json()['runs'][0]['id']}/probes", json={"probes": ["pad_length"]}
    )
    assert again.status_code == 409
    assert f"probe of run {source['id']}" in again.json()["detail"]


def test_deleting_the_source_deletes_its_probes(
    pg_api: httpx.Client, pg_url: str, made: list[int]
) -> None:
    source = _source(pg_api, made, n=3)
    probe = pg_api.post(f"/v1/runs/{source['id']}/probes", json={"probes": ["drop_images"]})
    probe_id = probe.json()["runs"][0]["id"]
    with session_factory(pg_url).begin() as session:
        session.execute(delete(Run).where(Run.id == source["id"]))
    assert pg_api.get(f"/v1/runs/{probe_id}").status_code == 404


def test_another_projects_run_is_not_found(locked: str, pg_url: str, made: list[int]) -> None:
    ours = new_key(pg_url, f"ours-{uuid.uuid4().hex[:6]}")
    theirs = new_key(pg_url, f"theirs-{uuid.uuid4().hex[:6]}")
    with client(locked, ours) as api, client(locked, theirs) as other:
        source = _source(api, made, n=3)
        path = f"/v1/runs/{source['id']}/probes"
        created = api.post(path, json={"probes": ["drop_images"]})
        assert created.status_code == 201
        made.extend(run["id"] for run in created.json()["runs"])
        for refused in (other.post(path, json={"probes": ["drop_images"]}), other.get(path)):
            assert refused.status_code == 404
            assert refused.json()["detail"] == f"run {source['id']} not found"
        assert api.get(path).json()["probes"][0]["probe"] == "drop_images"


def test_the_body_is_parsed_strictly(pg_api: httpx.Client, made: list[int]) -> None:
    source = create_run(pg_api, ["sim"])
    made.append(source["id"])
    response = pg_api.post(
        f"/v1/runs/{source['id']}/probes",
        content=b'{"probes": ["pad_length"], "sample": NaN}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422 and "NaN is not a JSON number" in response.text


def test_a_long_run_name_is_cut_to_fit_the_probe_suffix(
    pg_api: httpx.Client, made: list[int]
) -> None:
    source = create_run(pg_api, ["sim"], name="n" * 200)
    made.append(source["id"])
    body = {"probes": ["drop_images"], "seed": 9}
    created = pg_api.post(f"/v1/runs/{source['id']}/probes", json=body)
    assert created.status_code == 201, created.text
    (run,) = created.json()["runs"]
    made.append(run["id"])
    assert len(run["name"]) == 200
    assert run["name"].endswith(f" (probe drop_images of run {source['id']}, seed 9)")


def test_a_judge_configured_differently_since_the_run_is_refused(
    pg_api: httpx.Client,
    pg_settings: Settings,
    judges: dict[str, dict[str, Any]],
    made: list[int],
) -> None:
    """Another API on the same database whose `sim` has another model: no probe is made."""
    source = _source(pg_api, made, n=3)
    changed = {**judges, "sim": {**judges["sim"], "model": "simulated-judge@tie_rate=0.5"}}
    settings = Settings(
        database_url=pg_settings.database_url,
        redis_url=pg_settings.redis_url,
        queue_name=pg_settings.queue_name,
        judges=changed,
    )
    with (
        BackgroundServer(create_app(settings)) as server,
        httpx.Client(base_url=server.url) as client,
    ):
        response = client.post(f"/v1/runs/{source['id']}/probes", json={"probes": ["pad_length"]})
    assert response.status_code == 409 and "configured differently" in response.json()["detail"]
