"""Every 429 and 529 a judge call receives is counted, the SDK's retried ones included;
counting never fails a call, whatever Redis does.

The job runs here, in the test process (the same `judge_chunk` a worker's horse runs), so
each case can choose where the counts go: the shared Redis, this process, or a Redis that
does not answer.
"""

import logging
from typing import Any

import pytest

from judge_service.background import free_port
from judge_service.demo.sample import sample_pairs
from judge_service.jobs.judge_pairs import judge_chunk
from judge_service.judging.throttling import throttled_counts
from judge_service.redis_clients import probe_redis
from judge_service.simulate.config import SimulatorConfig
from tests.conftest import StackFactory, create_run, simulated_judges, simulator_stats

# Two requests back to back, then two a second: a job's eight concurrent calls get 429s.
# Seed 8 makes the first request the simulator admits a 529 (its error draws are seeded).
REFUSING = SimulatorConfig(
    latency_mean_s=0.0, latency_jitter_s=0.0, rpm_limit=120, rpm_burst=2, error_rate=0.3, seed=8
)


def retrying_judge(simulator_url: str) -> dict[str, dict[str, Any]]:
    """The Anthropic-format judge (529 is Anthropic's overload), its SDK retrying refusals."""
    return {"sim-anthropic": {**simulated_judges(simulator_url)["sim-anthropic"], "max_retries": 3}}


@pytest.mark.parametrize("counts_in", ["redis", "process", "unreachable redis"])
def test_refusals_are_counted_and_never_fail_a_call(
    counts_in: str,
    stack_factory: StackFactory,
    redis_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    stack = stack_factory(judges=retrying_judge, simulator_config=REFUSING)
    run = create_run(stack.api, ["sim-anthropic"])
    stack.api.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": sample_pairs(4)})
    pair_ids = [
        item["pair_id"] for item in stack.api.get(f"/v1/runs/{run['id']}/pairs").json()["items"]
    ]
    where = {
        "redis": redis_url,
        "process": None,
        "unreachable redis": f"redis://127.0.0.1:{free_port()}/0",
    }[counts_in]
    settings = stack.settings.model_copy(update={"redis_url": where})

    with caplog.at_level(logging.WARNING):
        summary = judge_chunk(settings, pair_ids)
    not_counted = [r for r in caplog.records if r.name == "judge_service.judging.throttling"]

    sent = simulator_stats(stack.simulator)
    assert sent["rate_limited"] > 0 and sent["errors_by_status"].get("529", 0) > 0, sent
    assert summary.claimed == 8 and summary.done + summary.failed == 8
    reasons = stack.api.get(f"/v1/runs/{run['id']}").json()["counts"]["failed_by_reason"]
    # Calls given up after their retries fail as the provider answered; a hook that raised
    # would have made the SDK report a connection error instead.
    assert not {"connection_error", "internal_error"} & set(reasons), reasons
    if counts_in == "unreachable redis":
        assert not_counted and all("not counted" in r.getMessage() for r in not_counted)
        return
    counts = throttled_counts(where and probe_redis(where), settings.queue_name)
    assert counts == {
        ("sim-anthropic", 429): sent["rate_limited"],
        ("sim-anthropic", 529): sent["errors_by_status"]["529"],
    }
    assert not not_counted
