"""Reasoning models and extended thinking in the simulated provider, through the real SDKs:
what the real APIs refuse is refused with their error shapes, and replies report reasoning."""

from typing import Any

import anthropic
import openai
import pytest

from judge_service.background import BackgroundServer
from judge_service.judging.prompt import render_prompt
from judge_service.judging.protocol import TOOL_NAME, Scale, verdict_schema
from judge_service.simulate.reasoning import EFFORT_TOKENS
from tests.simulate.helpers import QUESTION, RIGHT, WRONG, ant, oai

PROMPT = render_prompt(QUESTION, "pneumonia", RIGHT, WRONG)
SCHEMA = verdict_schema(["overall"], Scale.THREE)
TOOLS = [{"name": TOOL_NAME, "description": "Record the verdict.", "input_schema": SCHEMA}]


def chat(server: BackgroundServer, **body: Any) -> Any:
    messages = [
        {"role": "system", "content": PROMPT.system},
        {"role": "user", "content": PROMPT.user},
    ]
    return oai(server).chat.completions.create(messages=messages, **body)


def message(server: BackgroundServer, **body: Any) -> Any:
    messages = [{"role": "user", "content": PROMPT.user}]
    return ant(server).messages.create(system=PROMPT.system, messages=messages, **body)


@pytest.mark.parametrize(
    ("body", "param", "code", "text"),
    [
        (
            {"model": "gpt-5", "max_tokens": 500},
            "max_tokens",
            "unsupported_parameter",
            "Unsupported parameter: 'max_tokens' is not supported with this model. "
            "Use 'max_completion_tokens' instead.",
        ),
        (
            {"model": "o3-mini", "max_completion_tokens": 500, "temperature": 0.0},
            "temperature",
            "unsupported_value",
            "Unsupported value: 'temperature' does not support 0.0 with this model. "
            "Only the default (1) value is supported.",
        ),
        (
            {"model": "gpt-4o", "max_tokens": 500, "reasoning_effort": "low"},
            "reasoning_effort",
            "unsupported_parameter",
            "Unsupported parameter: 'reasoning_effort' is not supported with this model.",
        ),
        (
            {"model": "gpt-5", "max_completion_tokens": 500, "reasoning_effort": "extreme"},
            "reasoning_effort",
            "invalid_value",
            "Invalid value: 'extreme'.",
        ),
    ],
)
def test_openai_refuses_what_reasoning_models_do_not_take(
    server: BackgroundServer, body: dict[str, Any], param: str, code: str, text: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        chat(server, **body)
    error = caught.value.body
    assert isinstance(error, dict)
    assert error["type"] == "invalid_request_error" and error["message"].startswith(text)
    assert (error["param"], error["code"]) == (param, code)


@pytest.mark.parametrize(
    ("body", "text"),
    [
        (
            {"tools": TOOLS, "tool_choice": {"type": "tool", "name": TOOL_NAME}},
            "Thinking may not be enabled when tool_choice forces tool use.",
        ),
        ({"tools": TOOLS, "tool_choice": {"type": "any"}}, "Thinking may not be enabled"),
        ({"thinking": {"type": "enabled", "budget_tokens": 1000}}, "greater than or equal to 1024"),
        (
            {"thinking": {"type": "enabled", "budget_tokens": 4096}},
            "`max_tokens` must be greater than `thinking.budget_tokens`",
        ),
        (
            {"extra_body": {"temperature": 0.0}},  # this SDK has no temperature argument
            "`temperature` may only be set to 1 when thinking is enabled",
        ),
    ],
)
def test_anthropic_refuses_what_extended_thinking_does_not_allow(
    server: BackgroundServer, body: dict[str, Any], text: str
) -> None:
    settings = {"thinking": {"type": "enabled", "budget_tokens": 1024}, **body}
    with pytest.raises(anthropic.BadRequestError) as caught:
        message(server, model="claude-sonnet-4-5", max_tokens=4096, **settings)
    error = caught.value.body
    assert isinstance(error, dict)
    assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
    assert text in error["error"]["message"]


@pytest.mark.parametrize("effort", ["minimal", "low", "high", None])
def test_a_reasoning_model_reports_reasoning_tokens_inside_completion_tokens(
    server: BackgroundServer, effort: str | None
) -> None:
    extra = {} if effort is None else {"reasoning_effort": effort}
    reply = chat(server, model="gpt-5-mini", max_completion_tokens=4000, **extra)
    usage = reply.usage
    reasoning = usage.completion_tokens_details.reasoning_tokens
    assert reasoning == EFFORT_TOKENS[effort or "medium"]
    assert usage.completion_tokens > reasoning
    assert reply.choices[0].finish_reason == "stop" and "[[" in reply.choices[0].message.content
    assert reply.system_fingerprint


def test_reasoning_that_fills_the_cap_leaves_no_answer(server: BackgroundServer) -> None:
    reply = chat(server, model="o4-mini", max_completion_tokens=100, reasoning_effort="high")
    assert reply.choices[0].finish_reason == "length"
    assert reply.choices[0].message.content == ""
    assert reply.usage.completion_tokens == reply.usage.completion_tokens_details.reasoning_tokens
    assert reply.usage.completion_tokens == 100


def test_a_thinking_reply_opens_with_a_signed_thinking_block_billed_as_output(
    server: BackgroundServer,
) -> None:
    thinking = {"type": "enabled", "budget_tokens": 2000}
    reply = message(
        server,
        model="claude-sonnet-4-5",
        max_tokens=4000,
        thinking=thinking,
        tools=TOOLS,
        tool_choice={"type": "auto"},
    )
    first, answer = reply.content
    assert first.type == "thinking" and first.signature and "Simulated" in first.thinking
    assert answer.type == "tool_use" and answer.input["overall"]["verdict"] in ("A", "B", "C")
    assert reply.stop_reason == "tool_use"
    assert reply.usage.output_tokens > 2000


def test_thinking_that_leaves_no_room_cuts_the_reply_at_max_tokens(
    server: BackgroundServer,
) -> None:
    thinking = {"type": "enabled", "budget_tokens": 1024}
    reply = message(server, model="claude-haiku", max_tokens=1025, thinking=thinking)
    assert reply.stop_reason == "max_tokens"
    assert reply.content[0].type == "thinking"
    assert reply.usage.output_tokens <= 1025
