"""Probes end to end: a real worker judges the probe runs against the SIMULATED provider.

Two simulated vision judges see the same images: one grounds its reading in them
(`image_grounded`), one never looks. The drop-images probe tells them apart: the blind
judge's verdicts stay, the grounded one's move.
"""

import pytest

from judge_service.demo.sample import sample_pairs
from tests.conftest import KEY_ENV, StackFactory, create_run, wait_until_done

pytestmark = pytest.mark.slow
IMAGE = "https://img.example/synthetic-scan.png"


def judges(url: str) -> dict[str, dict[str, object]]:
    common = {"api_key_env": KEY_ENV, "max_retries": 0, "base_url": f"{url}/v1", "vision": True}
    return {
        "grounded": {
            "provider": "openai",
            "model": "simulated-judge@image_grounded=true",
            **common,
        },
        "blind": {"provider": "openai", "model": "simulated-judge", **common},
    }


def test_drop_images_tells_a_grounded_judge_from_a_blind_one(
    stack_factory: StackFactory,
) -> None:
    stack = stack_factory(judges=judges)
    run = create_run(stack.api, ["grounded", "blind"], rubric="reasoning-trace")
    pairs = [pair | {"image_urls": [IMAGE]} for pair in sample_pairs(60)]
    stack.api.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": pairs}).raise_for_status()
    stack.start_worker()
    wait_until_done(stack.api, run["id"], timeout=180)

    created = stack.api.post(
        f"/v1/runs/{run['id']}/probes",
        json={"probes": ["drop_images", "shuffle_rationale"], "sample": 40, "seed": 5},
    )
    assert created.status_code == 201, created.text
    for probe in created.json()["runs"]:
        wait_until_done(stack.api, probe["id"], timeout=180)

    table = stack.api.get(f"/v1/runs/{run['id']}/probes").json()
    rows = {(row["probe"], row["judge"], row["axis"]): row for row in table["rows"]}
    blind = rows[("drop_images", "blind", None)]
    grounded = rows[("drop_images", "grounded", None)]
    assert blind["n"] == grounded["n"] == 40
    assert blind["unchanged_share"] >= 0.9
    assert grounded["unchanged_share"] <= 0.5
    assert grounded["changed_ci"][0] > blind["changed_ci"][1]  # the intervals do not overlap
    assert "the overall verdict is not image-grounded" in blind["reading"]
    assert "the overall verdict depends on the images" in grounded["reading"]
    perception = rows[("drop_images", "grounded", "perception")]
    assert perception["reading"].endswith("the perception axis depends on the images.")
    # The answer axis follows the reference alone, images or not.
    assert rows[("drop_images", "grounded", "answer")]["changed"] == 0
    # Reordering the reasoning changes the traces the rule hashes, for both judges alike.
    assert rows[("shuffle_rationale", "blind", None)]["changed"] > 0
