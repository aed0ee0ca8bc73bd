"""Reasoning judges: what they are sent and what is read back, through the real SDKs against
the simulated provider (which refuses what the real APIs refuse), live and in a batch."""

import asyncio
import os
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from judge_service.background import BackgroundServer
from judge_service.config import JudgeConfig
from judge_service.judging.batches import batch_client
from judge_service.judging.prompt import render_prompt
from judge_service.judging.protocol import Scale, parse_structured, verdict_schema
from judge_service.judging.providers import JudgeCall, make_provider
from judge_service.judging.replies import JudgeReply
from judge_service.simulate.reasoning import EFFORT_TOKENS
from judge_service.simulate.server import create_app
from tests.conftest import KEY_ENV
from tests.simulate.helpers import fast

PROMPT = render_prompt(
    "Which diagnosis fits?", "pneumonia", "Final answer: pneumonia", "No.", structured=True
)
CRITERIA = ["overall"]
CALL = JudgeCall(PROMPT, schema=verdict_schema(CRITERIA, Scale.THREE))


@pytest.fixture(scope="module")
def provider() -> Iterator[BackgroundServer]:
    """A simulated provider of this module's own, so its list of requests is this module's."""
    with BackgroundServer(create_app(fast(seed=5, batch_delay_s=0.0))) as server:
        yield server


def judge(url: str, provider: str, model: str, **settings: Any) -> JudgeConfig:
    os.environ.setdefault(KEY_ENV, "simulated-test-key")
    return JudgeConfig.model_validate(
        {
            "provider": provider,
            "model": model,
            "base_url": f"{url}/v1" if provider == "openai" else url,
            "api_key_env": KEY_ENV,
            "max_retries": 0,
            "timeout_s": 5.0,
            **settings,
        }
    )


def gpt5(url: str, **settings: Any) -> JudgeConfig:
    return judge(url, "openai", "gpt-5-mini", **({"reasoning_effort": "low"} | settings))


def thinking_claude(url: str, **settings: Any) -> JudgeConfig:
    budget = {"thinking_budget_tokens": 1024, "max_tokens": 4096}
    return judge(url, "anthropic", "simulated-judge", **(budget | settings))


async def _ignore(_response: Any) -> None:
    return None


def complete(config: JudgeConfig, call: JudgeCall = CALL) -> JudgeReply:
    async def go() -> JudgeReply:
        live = make_provider(config, _ignore)
        try:
            return await live.complete(call)
        finally:
            await live.aclose()

    return asyncio.run(go())


def last_request(server: BackgroundServer) -> dict[str, Any]:
    """The settings of the latest request the simulated provider received."""
    received = httpx.get(f"{server.url}/simulator/requests").raise_for_status().json()
    return received[-1]


def test_reasoning_models_are_told_by_name_and_recorded_at_the_provider_default() -> None:
    plain = judge("http://x", "openai", "gpt-4o")
    assert plain.temperature == 0.0 and not plain.reasoning_model
    # A judge without the new settings keeps the record (and cache keys) it had.
    assert plain.fingerprint() == {
        "provider": "openai",
        "model": "gpt-4o",
        "temperature": 0.0,
        "max_tokens": 1024,
        "structured": True,
        "vision": False,
        "seed": None,
    }
    for model in ("o1", "o3-mini", "o4-mini", "gpt-5", "gpt-5-mini", "gpt-5.1"):
        reasoning = judge("http://x", "openai", model)
        assert reasoning.reasoning_model and reasoning.temperature is None, model
        assert reasoning.fingerprint()["temperature"] == "provider default"
    assert not judge("http://x", "openai", "gpt-5", reasoning=False).reasoning_model
    assert judge("http://x", "openai", "my-r1", reasoning=True).reasoning_model
    record = gpt5("http://x").fingerprint()
    assert record["reasoning_effort"] == "low" and record["temperature"] == "provider default"
    claude = thinking_claude("http://x").fingerprint()
    assert claude["thinking_budget_tokens"] == 1024 and claude["temperature"] == "provider default"


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"provider": "openai", "model": "gpt-5", "temperature": 0.0}, "temperature"),
        ({"provider": "anthropic", "thinking_budget_tokens": 512}, "thinking_budget_tokens"),
        (
            {"provider": "anthropic", "thinking_budget_tokens": 2048, "max_tokens": 2048},
            "thinking_budget_tokens",
        ),
        ({"provider": "openai", "thinking_budget_tokens": 2048}, "thinking_budget_tokens"),
        ({"provider": "anthropic", "reasoning_effort": "low"}, "reasoning_effort"),
        ({"provider": "openai", "reasoning_effort": "extreme"}, "reasoning_effort"),
    ],
)
def test_settings_the_provider_would_refuse_are_refused_by_name(
    settings: dict[str, Any], named: str
) -> None:
    with pytest.raises(ValidationError, match=named):
        JudgeConfig.model_validate({"model": "m", "api_key_env": "K", **settings})


def test_a_gpt5_judge_is_sent_max_completion_tokens_and_effort_and_no_temperature(
    provider: BackgroundServer,
) -> None:
    config = gpt5(provider.url, max_tokens=2000, input_usd_per_mtok=1.0, output_usd_per_mtok=8.0)
    reply = complete(config)
    sent = last_request(provider)
    assert sent["model"] == "gpt-5-mini"
    assert (sent["max_completion_tokens"], sent["reasoning_effort"]) == (2000, "low")
    assert "temperature" not in sent and "max_tokens" not in sent
    assert not reply.truncated
    assert parse_structured(reply.structured, CRITERIA, Scale.THREE).overall.label
    # Reasoning tokens are a part of output_tokens, so the price counts them once.
    assert reply.reasoning_tokens == EFFORT_TOKENS["low"]
    assert reply.output_tokens is not None and reply.output_tokens > EFFORT_TOKENS["low"]
    assert (reply.model, reply.system_fingerprint) == ("gpt-5-mini", "simulated-judge")
    cost = config.cost_usd(reply.input_tokens or 0, reply.output_tokens)
    assert cost == pytest.approx(
        ((reply.input_tokens or 0) * 1.0 + reply.output_tokens * 8.0) / 1e6
    )


def test_an_ordinary_openai_judge_is_still_sent_max_tokens_and_temperature(
    provider: BackgroundServer,
) -> None:
    reply = complete(judge(provider.url, "openai", "simulated-judge"))
    sent = last_request(provider)
    assert (sent["max_tokens"], sent["temperature"]) == (1024, 0.0)
    assert "max_completion_tokens" not in sent and "reasoning_effort" not in sent
    assert reply.reasoning_tokens == 0 and not reply.truncated


@pytest.mark.parametrize("keep_thinking", [False, True])
def test_an_anthropic_judge_thinks_without_forced_tool_use_and_its_verdict_is_parsed(
    provider: BackgroundServer, keep_thinking: bool
) -> None:
    reply = complete(thinking_claude(provider.url, keep_thinking=keep_thinking))
    sent = last_request(provider)
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    assert sent["tool_choice"] == {"type": "auto"} and sent["max_tokens"] == 4096
    assert "temperature" not in sent
    assert not reply.truncated
    assert parse_structured(reply.structured, CRITERIA, Scale.THREE).overall.label
    # Thinking is billed inside output_tokens; Anthropic reports no separate count.
    assert reply.output_tokens is not None and reply.output_tokens > 1024
    assert reply.reasoning_tokens is None
    if keep_thinking:
        assert reply.thinking is not None and reply.thinking.startswith("Simulated thinking")
    else:
        assert reply.thinking is None


def test_a_thinking_judge_in_text_mode_has_its_verdict_lines_read(
    provider: BackgroundServer,
) -> None:
    config = thinking_claude(provider.url, structured=False)
    text_prompt = render_prompt("Which diagnosis fits?", "pneumonia", "Final answer: x", "No.")
    reply = complete(config, JudgeCall(text_prompt))
    assert "tools" not in last_request(provider) and "[[" in reply.text and not reply.truncated


@pytest.mark.parametrize(
    "config",
    [
        lambda url: gpt5(url, reasoning_effort="medium", max_tokens=200),
        lambda url: thinking_claude(url, max_tokens=1040),
    ],
    ids=["openai-reasoning", "anthropic-thinking"],
)
def test_thinking_that_uses_up_the_cap_leaves_a_truncated_reply(
    provider: BackgroundServer, config: Any
) -> None:
    judge_config = config(provider.url)
    reply = complete(judge_config)
    assert reply.truncated
    assert reply.output_tokens is not None and reply.output_tokens <= judge_config.max_tokens
    with pytest.raises(ValueError):
        parse_structured(reply.structured or reply.text, CRITERIA, Scale.THREE)


@pytest.mark.parametrize("make", [gpt5, thinking_claude], ids=["openai", "anthropic"])
def test_a_batch_sends_the_same_requests_and_reads_the_reasoning(
    provider: BackgroundServer, make: Any
) -> None:
    config = make(provider.url, keep_thinking=make is thinking_claude)
    client = batch_client(config)
    try:
        batch_id = client.submit([("one", CALL)], "reasoning-test")
        deadline = time.monotonic() + 30
        while not (state := client.state(batch_id)).ended:
            assert time.monotonic() < deadline, state
            time.sleep(0.05)
        (answer,) = list(client.answers(batch_id, state))
    finally:
        client.close()
    assert answer.error is None and answer.reply is not None
    assert parse_structured(answer.reply.structured, CRITERIA, Scale.THREE).overall.label
    if make is gpt5:
        assert answer.reply.reasoning_tokens == EFFORT_TOKENS["low"]
        assert answer.reply.system_fingerprint == "simulated-judge"
    else:
        assert answer.reply.thinking and answer.reply.output_tokens > 1024
