"""A strongly position-biased judge: the swap design shows the bias and cancels it.

Under a judge that names slot A with probability b and otherwise tells the
truth, a pair is a decisive win only when neither order's bias fires, for wins
and losses alike, so the decisive win rate over swapped pairs stays at the
truth t; a single baseline-first order gives t(1 - b) among decisive verdicts.
"""

import pytest

from judge_service.demo.sample import sample_pairs
from tests.conftest import KEY_ENV, StackFactory, create_run, wait_until_done

pytestmark = pytest.mark.slow
BIAS = 0.5


def judges(url: str) -> dict[str, dict[str, object]]:
    common = {"api_key_env": KEY_ENV, "max_retries": 0, "base_url": f"{url}/v1"}
    return {
        "fair": {"provider": "openai", "model": "simulated-judge@tie_rate=0", **common},
        "biased": {
            "provider": "openai",
            "model": f"simulated-judge@tie_rate=0,position_bias={BIAS}",
            **common,
        },
    }


def test_bias_is_visible_and_cancelled_by_the_swap(stack_factory: StackFactory) -> None:
    stack = stack_factory(judges=judges)
    pairs = sample_pairs(400)
    swapped = create_run(stack.api, ["fair", "biased"])
    single = create_run(stack.api, ["biased"], swap=False)
    for run in (swapped, single):
        stack.api.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": pairs}).raise_for_status()
    stack.start_worker()
    stack.start_worker()
    for run in (swapped, single):
        wait_until_done(stack.api, run["id"], timeout=180)

    stats = stack.api.get(f"/v1/runs/{swapped['id']}/stats").json()
    fair, biased = stats["per_judge"]["fair"], stats["per_judge"]["biased"]
    truth = fair["decisive_win_rate"]

    # The bias is visible...
    assert fair["position_consistency"] == 1.0
    assert biased["position_consistency"] < 0.7
    assert biased["first_slot_rate"] > 0.5
    assert biased["first_slot_rate_ci"][0] > 0.5
    assert fair["first_slot_rate_ci"][0] <= 0.5 <= fair["first_slot_rate_ci"][1]
    # ...and the swap cancels it in the decisive rate, but not in the half-credit rate.
    low, high = biased["decisive_win_rate_ci"]
    assert low <= truth <= high
    assert abs(biased["win_rate"] - 0.5) < abs(truth - 0.5)

    one_order = stack.api.get(f"/v1/runs/{single['id']}/stats").json()["per_judge"]["biased"]
    low, high = one_order["decisive_win_rate_ci"]
    assert not low <= truth <= high
    assert one_order["decisive_win_rate"] < truth
