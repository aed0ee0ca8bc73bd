"""Paced judge calls against the simulated provider, through the real SDKs and a real Redis.

One retry layer: a call makes at most `max_retries + 1` attempts (429s apart), waits out
`retry-after`, and the pause a refusal sets holds every caller of that judge, in other
processes too.
"""

import asyncio
import json
import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest
import redis

from judge_service.background import BackgroundServer
from judge_service.config import JudgeConfig
from judge_service.judging import retries
from judge_service.judging.concurrency import AdaptiveConcurrency
from judge_service.judging.paced import PacedJudge
from judge_service.judging.prompt import render_prompt
from judge_service.judging.providers import JudgeCall, make_provider
from judge_service.judging.rate_limits import RateBudgets, budget_key
from judge_service.judging.replies import JudgeReply
from judge_service.judging.throttling import ThrottleCounter
from judge_service.simulate.config import SimulatorConfig
from judge_service.simulate.server import create_app
from tests.conftest import KEY_ENV, simulator_stats
from tests.judging import budget_child

QUESTION = "Which diagnosis fits the findings?"


def call(answer: str) -> JudgeCall:
    """A call at its own pair: the simulator counts fault attempts per pair."""
    return JudgeCall(render_prompt(QUESTION, None, f"Final answer: {answer}", "Final answer: b"))


@pytest.fixture
def simulator() -> Iterator[BackgroundServer]:
    with BackgroundServer(
        create_app(SimulatorConfig(latency_mean_s=0.0, latency_jitter_s=0.0))
    ) as s:
        yield s


def judge(url: str, provider: str, knobs: str, max_retries: int) -> JudgeConfig:
    os.environ.setdefault(KEY_ENV, "simulated-test-key")
    return JudgeConfig(
        provider=provider,  # type: ignore[arg-type]
        model=f"simulated-judge@{knobs}",
        base_url=f"{url}/v1" if provider == "openai" else url,
        api_key_env=KEY_ENV,
        max_retries=max_retries,
        structured=False,
        timeout_s=2.0,
    )


async def paced_calls(
    config: JudgeConfig, redis_url: str, namespace: str, calls: list[JudgeCall]
) -> list[JudgeReply | BaseException]:
    """The calls made at once by one judge, as a job makes them."""
    throttles = ThrottleCounter(redis_url, namespace)
    budgets = RateBudgets(redis_url, namespace)
    budget = budgets.for_judge("j", config.rpm_limit, config.tpm_limit)
    paced = PacedJudge(
        make_provider(config, throttles.hook("j", budget.observe)),
        config,
        budget,
        AdaptiveConcurrency(config.max_concurrency),
    )
    try:
        return await asyncio.gather(*(paced.complete(c) for c in calls), return_exceptions=True)
    finally:
        await paced.aclose()
        await throttles.aclose()
        await budgets.aclose()


@pytest.mark.parametrize(
    ("provider", "fault", "raised"),
    [
        ("openai", "500", openai.InternalServerError),
        ("anthropic", "529", anthropic.InternalServerError),
        ("anthropic", "reset", anthropic.APIConnectionError),
    ],
)
def test_a_fault_outlasting_the_retries_fails_after_exactly_max_retries_plus_one_attempts(
    simulator: BackgroundServer, redis_url: str, provider: str, fault: str, raised: type
) -> None:
    config = judge(simulator.url, provider, f"http_fault={fault},http_fault_attempts=9", 2)
    [outcome] = asyncio.run(paced_calls(config, redis_url, uuid.uuid4().hex, [call("a")]))
    assert isinstance(outcome, raised)
    assert simulator_stats(simulator)["requests"] == 3


def test_429s_do_not_spend_the_retries_until_max_refusals(
    simulator: BackgroundServer, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 429 says "not now": with no retries left for failures, a call still goes through
    after three of them; past `MAX_REFUSALS` they count as failures again."""
    patient = judge(simulator.url, "openai", "http_fault=429,http_fault_attempts=3", 0)
    [reply] = asyncio.run(paced_calls(patient, redis_url, uuid.uuid4().hex, [call("a")]))
    assert isinstance(reply, JudgeReply), reply
    assert simulator_stats(simulator)["rate_limited"] == 3

    monkeypatch.setattr(retries, "MAX_REFUSALS", 1)
    spent = judge(simulator.url, "openai", "http_fault=429-bare,http_fault_attempts=9", 1)
    [outcome] = asyncio.run(paced_calls(spent, redis_url, uuid.uuid4().hex, [call("b")]))
    assert isinstance(outcome, openai.RateLimitError)
    # One 429 forgiven, then max_retries + 1 attempts: 3 in all.
    assert simulator_stats(simulator)["rate_limited"] == 3 + 3


def test_a_client_error_is_not_retried(simulator: BackgroundServer, redis_url: str) -> None:
    config = judge(simulator.url, "openai", "http_fault_attempts=-1", 2)  # a 400: bad knob
    [outcome] = asyncio.run(paced_calls(config, redis_url, uuid.uuid4().hex, [call("a")]))
    assert isinstance(outcome, openai.BadRequestError)
    assert simulator_stats(simulator)["requests"] == 1


def test_retry_after_is_waited_out_and_pauses_every_call_of_the_judge(
    simulator: BackgroundServer, redis_url: str
) -> None:
    """The first call's first attempt gets a 429 with `retry-after: 1`; a second call of the
    judge (one that would get no fault) starts as soon as the 429 is in, and waits too."""
    namespace = uuid.uuid4().hex
    config = judge(simulator.url, "openai", "http_fault=429,http_fault_attempts=1", 1)
    unfaulted = judge(simulator.url, "openai", "seed=0", 1)  # the same judge's budget "j"

    async def scenario() -> tuple[float, float, list[JudgeReply | BaseException]]:
        started = time.monotonic()
        first = asyncio.create_task(paced_calls(config, redis_url, namespace, [call("a")]))
        pause = budget_key(namespace, "j", "pause")
        probe = redis.asyncio.Redis.from_url(redis_url)
        try:
            while await probe.pttl(pause) <= 0:  # the 429 arrived: its hook set the pause
                await asyncio.sleep(0.005)
        finally:
            await probe.aclose()
        second_started = time.monotonic()
        [second] = await paced_calls(unfaulted, redis_url, namespace, [call("c")])
        second_done = time.monotonic()
        [retried] = await first
        return second_done - second_started, time.monotonic() - started, [retried, second]

    second_waited, first_took, replies = asyncio.run(scenario())
    assert all(isinstance(reply, JudgeReply) for reply in replies), replies
    sim = simulator_stats(simulator)
    assert sim["rate_limited"] == 1 and sim["requests"] == 3
    assert first_took >= 1.0  # the retry came no sooner than retry-after
    # Started at most a few milliseconds after the 429, yet paced to the pause's end.
    assert second_waited >= 0.9


def test_another_process_waits_out_the_pause_a_refusal_set(
    simulator: BackgroundServer, redis_url: str
) -> None:
    """A process drawing on the same judge's budget, told to go right after the 429: its
    grant comes a retry-after later."""
    namespace = uuid.uuid4().hex
    child = budget_child.spawn(redis_url, namespace, "j", 0, 1)
    config = judge(simulator.url, "anthropic", "http_fault=429,http_fault_attempts=1", 0)
    before = time.time()
    [outcome] = asyncio.run(paced_calls(config, redis_url, namespace, [call("a")]))
    assert isinstance(outcome, JudgeReply)  # the 429 spent none of its 0 retries
    granted: list[Any] = json.loads(child.communicate("go\n", timeout=30)[0])
    assert granted[0] >= before + 1.0
