"""One judge, several endpoints: calls spread by the endpoints' budgets, and fail over.

Real SDKs against simulated providers on real sockets, budgets in the real Redis. An
endpoint that is down (nothing listening: connection refused; no answer within the timeout;
5xx) loses its calls to the others without spending a retry: the judges here have
`max_retries = 0`, so any call that failed over by retrying would fail.
"""

import asyncio
import os
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import openai
import pytest

from judge_service.background import BackgroundServer, free_port
from judge_service.config import JudgeConfig
from judge_service.demo.sample import sample_pairs
from judge_service.judging import endpoints as endpoint_pool
from judge_service.judging.concurrency import AdaptiveConcurrency
from judge_service.judging.endpoints import Endpoint, EndpointPool
from judge_service.judging.paced import PacedJudge
from judge_service.judging.prompt import render_prompt
from judge_service.judging.providers import JudgeCall, make_provider
from judge_service.judging.rate_limits import RateBudgets
from judge_service.judging.replies import JudgeReply
from judge_service.judging.throttling import ThrottleCounter, endpoint_figures
from judge_service.redis_clients import probe_redis
from judge_service.simulate.config import SimulatorConfig
from judge_service.simulate.server import create_app
from tests.api.test_metrics import Scrape
from tests.conftest import KEY_ENV, StackFactory, create_run, simulator_stats, wait_until_done

QUICK = SimulatorConfig(latency_mean_s=0.0, latency_jitter_s=0.0, seed=3)


def call(answer: str) -> JudgeCall:
    return JudgeCall(render_prompt("Which fits?", None, f"Final answer: {answer}", "Final: b"))


def replicated(urls: list[str], knobs: str = "", **extra: Any) -> JudgeConfig:
    os.environ.setdefault(KEY_ENV, "simulated-test-key")
    return JudgeConfig.model_validate(
        {
            "provider": "openai",
            "model": "simulated-judge" + (f"@{knobs}" if knobs else ""),
            "endpoints": [{"base_url": f"{url}/v1", "api_key_env": KEY_ENV} for url in urls],
            "max_retries": 0,
            "structured": False,
            "timeout_s": 2.0,
            **extra,
        }
    )


async def replicated_calls(
    config: JudgeConfig,
    redis_url: str | None,
    namespace: str,
    calls: list[JudgeCall],
    *waves: tuple[float, list[JudgeCall] | Callable[[], object]],
) -> list[JudgeReply | BaseException]:
    """The calls made at once by one judge of several endpoints, as a job makes them; then,
    each the given seconds after the one before, each wave's calls or a look at the state."""
    throttles = ThrottleCounter(redis_url, namespace)
    budgets = RateBudgets(redis_url, namespace)
    endpoints = []
    for replica, label in zip(config.replicas, config.endpoint_labels(), strict=True):
        budget = budgets.for_judge("j", replica.rpm_limit, replica.tpm_limit, label)
        hook = throttles.hook("j", budget.observe, label)
        endpoints.append(Endpoint(label, make_provider(config, hook, replica), budget))
    paced = PacedJudge(
        EndpointPool("j", endpoints, throttles), config, None, AdaptiveConcurrency(8)
    )
    try:
        outcomes = await asyncio.gather(*(paced.complete(c) for c in calls), return_exceptions=True)
        for pause_s, wave in waves:
            await asyncio.sleep(pause_s)
            if callable(wave):
                wave()
                continue
            more = await asyncio.gather(*(paced.complete(c) for c in wave), return_exceptions=True)
            outcomes += more
        return outcomes
    finally:
        await paced.aclose()
        await throttles.aclose()
        await budgets.aclose()


@pytest.fixture
def live() -> Iterator[BackgroundServer]:
    with BackgroundServer(create_app(QUICK)) as server:
        yield server


def test_calls_fail_over_from_an_endpoint_refusing_connections(
    live: BackgroundServer, redis_url: str
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    config = replicated([dead, live.url])
    namespace = uuid.uuid4().hex
    outcomes = asyncio.run(
        replicated_calls(config, redis_url, namespace, [call(str(i)) for i in range(40)])
    )
    assert all(isinstance(o, JudgeReply) for o in outcomes), outcomes
    assert simulator_stats(live)["requests"] == 40
    counts, states = endpoint_figures(probe_redis(redis_url), namespace)
    dead_label, live_label = config.endpoint_labels()
    # The SDKs' aiohttp transport reports a refused connection as a connect timeout.
    refused = sum(
        n for (_, label, what), n in counts.items() if label == dead_label and "error:" in what
    )
    assert refused >= 1 and refused == counts[("j", dead_label, "calls")], counts
    assert counts[("j", live_label, "calls")] == 40
    assert states[("j", dead_label)][1] is False and states[("j", live_label)][1] is True


def test_calls_fail_over_from_an_endpoint_that_does_not_answer(
    live: BackgroundServer, redis_url: str
) -> None:
    hung_config = SimulatorConfig(latency_mean_s=30.0, latency_jitter_s=0.0)
    with BackgroundServer(create_app(hung_config)) as hung:
        config = replicated([hung.url, live.url], timeout_s=0.5)
        started = time.monotonic()
        outcomes = asyncio.run(
            replicated_calls(config, redis_url, uuid.uuid4().hex, [call(str(i)) for i in range(6)])
        )
        took = time.monotonic() - started
    assert all(isinstance(o, JudgeReply) for o in outcomes), outcomes
    assert simulator_stats(live)["requests"] == 6
    assert took < 10  # each call waited out at most one timeout of the hung endpoint


def test_an_endpoint_answering_5xx_cools_down_then_gets_one_trial_call(
    live: BackgroundServer, redis_url: str
) -> None:
    """Calls in flight when it failed fail over; later ones avoid it for its cooldown (1 s);
    after it, one trial call goes to it, and failing again it cools down for 2 s."""
    failing_config = SimulatorConfig(
        latency_mean_s=0.0, latency_jitter_s=0.0, error_rate=1.0, persistent_faults=True
    )
    seen: list[int] = []

    def count_failing() -> None:
        seen.append(simulator_stats(failing)["requests"])

    with BackgroundServer(create_app(failing_config)) as failing:
        config = replicated([failing.url, live.url])
        waves = [
            (0.0, count_failing),  # after the first calls
            (0.0, [call(f"b{i}") for i in range(10)]),  # within the cooldown
            (0.0, count_failing),
            (1.2, [call(f"c{i}") for i in range(10)]),  # after it
            (0.0, count_failing),
        ]
        outcomes = asyncio.run(
            replicated_calls(
                config, redis_url, uuid.uuid4().hex, [call(f"a{i}") for i in range(10)], *waves
            )
        )
    assert all(isinstance(o, JudgeReply) for o in outcomes), outcomes
    assert simulator_stats(live)["requests"] == 30
    first, within, after = seen
    assert first >= 1 and within == first and after == first + 1, seen


def test_with_every_endpoint_down_the_retries_apply(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each attempt tries every live endpoint once; then the retry layer decides: with one
    retry, the second attempt finds both cooling down and tries the one back first."""
    # Cooldowns longer than any retry wait, so the second attempt finds both still down
    # however slowly a loaded machine gets there.
    monkeypatch.setattr(endpoint_pool, "COOLDOWN_S", 30.0)
    fault = SimulatorConfig(latency_mean_s=0.0, latency_jitter_s=0.0)
    with (
        BackgroundServer(create_app(fault)) as first,
        BackgroundServer(create_app(fault)) as second,
    ):
        config = replicated(
            [first.url, second.url], "http_fault=500,http_fault_attempts=9", max_retries=1
        )
        [outcome] = asyncio.run(replicated_calls(config, redis_url, uuid.uuid4().hex, [call("a")]))
        sent = [simulator_stats(s)["requests"] for s in (first, second)]
    assert isinstance(outcome, openai.InternalServerError)
    assert sum(sent) == 3 and min(sent) == 1, sent


def test_calls_spread_by_the_endpoints_budgets_and_show_in_metrics(
    stack_factory: StackFactory, redis_url: str
) -> None:
    """Endpoints of 600 and 1,800 requests/min get about a quarter and three quarters of a
    run's calls, with no 429 from either; `/metrics` shows each one's figures."""
    slow_config = SimulatorConfig(latency_mean_s=0.02, latency_jitter_s=0.01, rpm_limit=600, seed=4)
    with BackgroundServer(create_app(slow_config)) as slow:

        def judges(url: str) -> dict[str, dict[str, Any]]:
            config = replicated([slow.url, url])
            limits = ({"rpm_limit": 600}, {"rpm_limit": 1800})
            endpoints = [
                {**e.model_dump(), **limit}
                for e, limit in zip(config.replicas, limits, strict=True)
            ]
            return {"sim": {**config.model_dump(exclude_none=True), "endpoints": endpoints}}

        stack = stack_factory(
            judges=judges,
            simulator_config=SimulatorConfig(
                latency_mean_s=0.02, latency_jitter_s=0.01, rpm_limit=1800, seed=5
            ),
            chunk_size=50,
        )
        run = create_run(stack.api, ["sim"])
        stack.api.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": sample_pairs(150)})
        worker = stack.start_worker()
        done = wait_until_done(stack.api, run["id"], timeout=180)
        worker.stop()
        slow_stats = simulator_stats(slow)
    fast_stats = simulator_stats(stack.simulator)
    assert done["counts"]["judgments_done"] == 300
    assert slow_stats["rate_limited"] == 0 and fast_stats["rate_limited"] == 0
    share = slow_stats["requests"] / (slow_stats["requests"] + fast_stats["requests"])
    print(f"slow endpoint's share of calls: {share:.3f} ({slow_stats['requests']} of 300)")
    assert 0.15 <= share <= 0.35, (slow_stats["requests"], fast_stats["requests"])

    scrape = Scrape(stack.api)
    slow_label, fast_label = stack.settings.all_judges["sim"].endpoint_labels()
    for label, stats, rpm in ((slow_label, slow_stats, 600), (fast_label, fast_stats, 1800)):
        labels = {"judge": "sim", "endpoint": label}
        assert scrape.value("judge_endpoint_calls_total", **labels) == stats["requests"]
        assert scrape.value("judge_endpoint_rate_rpm", **labels) == rpm
        assert scrape.value("judge_endpoint_up", **labels) == 1
    assert os.environ[KEY_ENV] not in scrape.body and KEY_ENV not in scrape.body


def test_without_redis_calls_rotate_and_the_figures_stay_in_the_process(
    live: BackgroundServer,
) -> None:
    """The embedded mode: no budgets to compare, so the endpoints take turns; `/metrics`
    reads the figures from the process."""
    other_name = live.url.replace("127.0.0.1", "localhost")  # the same server, another endpoint
    config = replicated([live.url, other_name])
    namespace = uuid.uuid4().hex
    calls = [call(str(i)) for i in range(10)]
    outcomes = asyncio.run(replicated_calls(config, None, namespace, calls))
    assert all(isinstance(o, JudgeReply) for o in outcomes), outcomes
    counts, states = endpoint_figures(None, namespace)
    first, second = config.endpoint_labels()
    assert counts == {("j", first, "calls"): 5, ("j", second, "calls"): 5}
    assert states == {("j", first): (None, True), ("j", second): (None, True)}
