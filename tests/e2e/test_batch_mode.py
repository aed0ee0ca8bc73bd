"""Batch mode end to end: the API, real `judge-service worker` processes, the simulated
provider's batch endpoints, PostgreSQL and Redis."""

import json
import time
from typing import Any

import httpx
import pytest

from judge_service.demo.sample import sample_pairs
from judge_service.simulate.config import SimulatorConfig
from tests.conftest import Stack, StackFactory, create_run, simulator_stats, wait_until_done

pytestmark = pytest.mark.slow

JUDGES = ["sim", "sim-anthropic"]
HOUR = 3600.0


def batch_stack(factory: StackFactory, **knobs: Any) -> Stack:
    config = SimulatorConfig(latency_mean_s=0.0, latency_jitter_s=0.0, seed=11, **knobs)
    # Workers wake every second for the reconcile and the batch step.
    return factory(simulator_config=config, reconcile_interval_s=1)


def start_run(stack: Stack, pairs: list[dict[str, Any]], mode: str, **extra: Any) -> int:
    run = create_run(stack.api, JUDGES, mode=mode, **extra)
    added = stack.api.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": pairs}).json()
    assert added["accepted"] == len(pairs)
    return int(run["id"])


def records(api: httpx.Client, run_id: int) -> list[dict[str, Any]]:
    lines = api.get(f"/v1/runs/{run_id}/judgments?format=jsonl").text.splitlines()
    return [json.loads(line) for line in lines]


def verdicts(api: httpx.Client, run_id: int) -> dict[tuple[str, str, str], tuple[str, str]]:
    return {
        (r["external_id"], r["judge"], r["order"]): (r["verdict"], r["label"])
        for r in records(api, run_id)
    }


def wait_for(check: Any, what: str, timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} after {timeout} s")
        time.sleep(0.1)
    return value


def test_a_batch_run_completes_with_the_verdicts_of_a_live_run(stack_factory: StackFactory) -> None:
    stack = batch_stack(stack_factory)
    pairs = sample_pairs(6)
    batch_run = start_run(stack, pairs, "batch")
    stack.start_worker()
    done = wait_until_done(stack.api, batch_run)
    assert done["mode"] == "batch"
    assert (done["counts"]["judgments_done"], done["counts"]["judgments_failed"]) == (24, 0)

    counters = simulator_stats(stack.simulator)
    assert counters["requests"] == 0  # not one live chat or messages call
    assert counters["batches"] == {"openai": 1, "anthropic": 1}
    assert counters["batch_requests"] == {"openai": 12, "anthropic": 12}
    batches = stack.api.get(f"/v1/runs/{batch_run}/batches").json()
    assert [(b["judge"], b["provider"], b["status"]) for b in batches] == [
        ("sim", "openai", "ended"),
        ("sim-anthropic", "anthropic", "ended"),
    ]
    assert [(b["requests"], b["succeeded"], b["errored"]) for b in batches] == [(12, 12, 0)] * 2
    assert all(b["provider_batch_id"] and b["finished_at"] for b in batches)

    rows = records(stack.api, batch_run)
    assert len(rows) == 24
    assert len({(r["external_id"], r["judge"], r["order"]) for r in rows}) == 24
    assert all(r["status"] == "done" and r["attempts"] == 1 for r in rows)
    assert all(r["input_tokens"] and r["output_tokens"] for r in rows)

    # Uncached: the judgment cache would answer it with the batch run's verdicts.
    live_run = start_run(stack, pairs, "live", cache=False)
    wait_until_done(stack.api, live_run)
    assert stack.judge_calls() == 24
    assert verdicts(stack.api, batch_run) == verdicts(stack.api, live_run)
    batch_stats = stack.api.get(f"/v1/runs/{batch_run}/stats").json()
    live_stats = stack.api.get(f"/v1/runs/{live_run}/stats").json()
    assert batch_stats["per_judge"] == live_stats["per_judge"]


def test_partial_failures_are_retried_in_a_next_batch_and_the_run_completes(
    stack_factory: StackFactory,
) -> None:
    stack = batch_stack(stack_factory, batch_error_rate=0.5)
    run_id = start_run(stack, sample_pairs(8), "batch")
    stack.start_worker()
    done = wait_until_done(stack.api, run_id)
    assert (done["counts"]["judgments_done"], done["counts"]["judgments_failed"]) == (32, 0)
    batches = stack.api.get(f"/v1/runs/{run_id}/batches").json()
    errored = sum(b["errored"] for b in batches)
    assert errored == simulator_stats(stack.simulator)["batch_errors"] > 0
    assert len(batches) > 2  # a retry batch for at least one judge
    assert sum(b["succeeded"] for b in batches) == 32
    assert stack.judge_calls() == 0


def test_a_worker_killed_between_submit_and_poll_loses_and_repeats_nothing(
    stack_factory: StackFactory,
) -> None:
    stack = batch_stack(stack_factory, batch_delay_s=HOUR)
    run_id = start_run(stack, sample_pairs(4), "batch")
    first = stack.start_worker()

    def submitted() -> list[dict[str, Any]]:
        batches = stack.api.get(f"/v1/runs/{run_id}/batches").json()
        return batches if [b["status"] for b in batches] == ["in_progress"] * 2 else []

    before = wait_for(submitted, "two batches in progress")
    first.process.kill()
    first.process.wait()

    httpx.post(stack.simulator.url + "/simulator/batches/release").raise_for_status()
    stack.start_worker()
    done = wait_until_done(stack.api, run_id)
    assert done["counts"]["judgments_done"] == 16
    after = stack.api.get(f"/v1/runs/{run_id}/batches").json()
    # The same two batches, polled by the new worker: none lost, none sent again.
    assert [b["provider_batch_id"] for b in after] == [b["provider_batch_id"] for b in before]
    assert [b["status"] for b in after] == ["ended", "ended"]
    assert simulator_stats(stack.simulator)["batches"] == {"openai": 1, "anthropic": 1}
    assert all(r["attempts"] == 1 for r in records(stack.api, run_id))
