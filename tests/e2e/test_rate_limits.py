"""Two real worker processes share one judge's rate budget: the provider refuses nothing.

The simulated provider allows 600 requests a minute with a 2-second burst, and answers 429
to anything beyond; our judge is told the same limit. Each worker alone would send its
chunk's eight calls at once, two workers sixteen, well past the provider's bucket of 20
once the first chunks are in. Through the shared budget (a 1-second burst, then 10 a
second for both together) every request fits, with a second of slack for a request that
reaches the provider later than it was granted.
"""

import time
from collections import Counter

import pytest

from judge_service.demo.sample import sample_pairs
from judge_service.simulate.config import SimulatorConfig
from tests.conftest import StackFactory, create_run, simulator_stats, wait_until_done
from tests.e2e.test_judging import judge, records

pytestmark = pytest.mark.slow
RPM = 600
PAIRS = 40
CALLS = PAIRS * 2  # both orders


def test_two_workers_judge_at_the_providers_limit_without_a_refusal(
    stack_factory: StackFactory,
) -> None:
    stack = stack_factory(
        judges=lambda url: {"sim": judge(url, rpm_limit=RPM, max_retries=2, max_concurrency=8)},
        simulator_config=SimulatorConfig(
            latency_mean_s=0.05, latency_jitter_s=0.02, rpm_limit=RPM, seed=11
        ),
        chunk_size=5,
    )
    run = create_run(stack.api, ["sim"])
    stack.api.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": sample_pairs(PAIRS)})
    started = time.monotonic()
    workers = [stack.start_worker(), stack.start_worker()]
    done = wait_until_done(stack.api, run["id"], timeout=240)
    elapsed = time.monotonic() - started
    outputs = [worker.stop() for worker in workers]

    sim = simulator_stats(stack.simulator)
    assert sim["rate_limited"] == 0, sim
    assert sim["requests"] == CALLS
    assert done["counts"]["judgments_done"] == CALLS
    judged = Counter((row["external_id"], row["order"]) for row in records(stack.api, run["id"]))
    assert len(judged) == CALLS and set(judged.values()) == {1}
    # Both processes judged (each logs the judgments its jobs claimed) ...
    assert all("claimed" in output for output in outputs), outputs
    # ... and together no faster than the budget: a 1 s burst of 10, then 10 a second.
    assert elapsed >= (CALLS - RPM / 60 - 1) / (RPM / 60)
