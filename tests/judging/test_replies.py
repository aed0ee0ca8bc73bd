"""Replies read from the decoded JSON: the same fields the SDKs' typed replies give, and a
clear failure for a 200 whose body is no reply. Real SDKs, real sockets."""

import asyncio
import json
import os
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse

from judge_service.background import BackgroundServer
from judge_service.config import JudgeConfig
from judge_service.judging.batches import BatchState, batch_client
from judge_service.judging.prompt import render_prompt
from judge_service.judging.protocol import verdict_schema
from judge_service.judging.providers import (
    JudgeCall,
    anthropic_body,
    describe_error,
    make_provider,
    openai_body,
)
from judge_service.judging.replies import (
    JudgeReply,
    MalformedReply,
    anthropic_reply,
    openai_reply,
)
from tests.conftest import KEY_ENV
from tests.simulate.helpers import announced, ant, oai

PROMPT = render_prompt("Which diagnosis fits?", "pneumonia", "Final answer: pneumonia", "No.")
CALL = JudgeCall(PROMPT)
USAGE = {"input_tokens": 9, "output_tokens": 1}


def config(
    url: str, provider: str, max_tokens: int = 1024, structured: bool = False
) -> JudgeConfig:
    os.environ.setdefault(KEY_ENV, "simulated-test-key")
    return JudgeConfig(
        provider=provider,  # type: ignore[arg-type]
        model="simulated-judge",
        base_url=f"{url}/v1" if provider == "openai" else url,
        api_key_env=KEY_ENV,
        structured=structured,
        max_tokens=max_tokens,
        max_retries=0,
        timeout_s=5.0,
    )


async def _ignore(_response: Any) -> None:
    return None


def ours(judge: JudgeConfig, call: JudgeCall) -> JudgeReply:
    async def go() -> JudgeReply:
        provider = make_provider(judge, _ignore)
        try:
            return await provider.complete(call)
        finally:
            await provider.aclose()

    return asyncio.run(go())


@pytest.mark.parametrize("max_tokens", [1024, 5])
def test_openai_fields_match_the_sdks_typed_reply(
    simulator: BackgroundServer, max_tokens: int
) -> None:
    """The same response read both ways: ours from its JSON, the SDK's into its model."""
    judge = config(simulator.url, "openai", max_tokens)
    raw = oai(simulator).chat.completions.with_raw_response.create(**openai_body(judge, CALL))
    theirs = raw.parse()
    mine = openai_reply(raw.http_response.json(), judge, False, None)
    usage = theirs.usage
    assert usage is not None and usage.prompt_tokens_details is not None
    choice = theirs.choices[0]
    assert mine.text == choice.message.content
    assert mine.truncated is (choice.finish_reason == "length") is (max_tokens == 5)
    assert (mine.input_tokens, mine.output_tokens) == (usage.prompt_tokens, usage.completion_tokens)
    assert mine.cached_input_tokens == usage.prompt_tokens_details.cached_tokens
    assert mine.model == theirs.model


@pytest.mark.parametrize("structured", [False, True])
def test_anthropic_fields_match_the_sdks_typed_reply(
    simulator: BackgroundServer, structured: bool
) -> None:
    judge = config(simulator.url, "anthropic", structured=structured)
    criteria, scale = announced(PROMPT)
    call = JudgeCall(PROMPT, schema=verdict_schema(criteria, scale) if structured else None)
    raw = ant(simulator).messages.with_raw_response.create(**anthropic_body(judge, call))
    theirs = raw.parse()
    mine = anthropic_reply(raw.http_response.json(), judge, structured, None)
    usage = theirs.usage
    cache = (usage.cache_read_input_tokens or 0) + (usage.cache_creation_input_tokens or 0)
    assert mine.input_tokens == usage.input_tokens + cache
    assert mine.output_tokens == usage.output_tokens
    assert mine.cached_input_tokens == (usage.cache_read_input_tokens or 0)
    assert mine.truncated is (theirs.stop_reason == "max_tokens") is False
    if structured:
        tool_inputs = [block.input for block in theirs.content if block.type == "tool_use"]
        assert mine.structured == tool_inputs[0] and mine.structured
    else:
        assert mine.text == "".join(b.text for b in theirs.content if b.type == "text")
        assert mine.text and mine.structured is None


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_live_calls_read_tokens_and_cache_hits(simulator: BackgroundServer, provider: str) -> None:
    """A repeated prompt prefix is read from the (simulated) provider's cache."""
    judge = config(simulator.url, provider)
    first, second = ours(judge, CALL), ours(judge, CALL)
    assert first.text == second.text and "simulated rule" in first.text
    assert first.input_tokens == second.input_tokens and (first.input_tokens or 0) > 0
    assert (second.cached_input_tokens or 0) > 0
    assert second.model == "simulated-judge" and second.latency_ms is not None


JUDGE = JudgeConfig(
    provider="openai", model="fallback", base_url="http://127.0.0.1:9/v1", api_key_env=KEY_ENV
)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([1, 2], "the body"),
        ({"model": "m"}, "choices"),
        ({"choices": "soon"}, "choices"),
        ({"choices": [{"message": {"content": 7}}]}, "choices.0.message.content"),
        ({"choices": [], "usage": {"prompt_tokens": "many"}}, "usage.prompt_tokens"),
    ],
)
def test_a_body_that_is_no_chat_completion_names_the_field(body: Any, field: str) -> None:
    with pytest.raises(MalformedReply, match=f"not a chat completion: {field}:"):
        openai_reply(body, JUDGE, False, None)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"content": [], "usage": {"input_tokens": 1}}, "usage.output_tokens"),
        ({"content": [{"text": "x"}], "usage": {"input_tokens": 1, "output_tokens": 1}}, "type"),
        ({"usage": {"input_tokens": 1, "output_tokens": 1}}, "content"),
    ],
)
def test_a_body_that_is_no_message_names_the_field(body: Any, field: str) -> None:
    with pytest.raises(MalformedReply, match=f"not a message: .*{field}"):
        anthropic_reply(body, JUDGE, False, None)


def test_an_empty_reply_falls_back_to_the_configured_model() -> None:
    reply = openai_reply({"choices": [], "model": None, "usage": None}, JUDGE, False, 3)
    assert (reply.text, reply.model, reply.input_tokens, reply.truncated) == (
        "",
        "fallback",
        None,
        False,
    )


def test_a_server_answering_200_with_no_reply_is_a_provider_error() -> None:
    """An OpenAI-compatible server (a proxy, say) whose 200 carries something else."""
    app = FastAPI()

    @app.post("/v1/chat/completions")
    def broken() -> dict[str, Any]:
        return {"object": "chat.completion", "choices": "soon"}

    with BackgroundServer(app) as server, pytest.raises(MalformedReply) as caught:
        ours(config(server.url, "openai"), CALL)
    kind, message = describe_error(caught.value)
    assert kind == "provider_error"
    assert "choices" in message and "HTTP 200" in message


def test_batch_answers_that_are_no_reply_are_errors_of_their_request() -> None:
    """A provider's batch results with one good answer and one without its usage."""
    good_chat = {"choices": [{"message": {"content": "A"}}], "usage": {"prompt_tokens": 9}}
    good_message = {"content": [{"type": "text", "text": "A"}], "usage": USAGE}
    app = FastAPI()

    @app.get("/v1/files/{file_id}/content")
    def openai_results(file_id: str) -> PlainTextResponse:
        lines = [
            {"custom_id": "ok", "response": {"status_code": 200, "body": good_chat}},
            {"custom_id": "bad", "response": {"status_code": 200, "body": {"choices": 3}}},
        ]
        return PlainTextResponse("\n".join(json.dumps(line) for line in lines))

    @app.get("/v1/messages/batches/{batch_id}")
    def anthropic_batch(batch_id: str, request: Request) -> dict[str, Any]:
        results = f"{request.base_url}v1/messages/batches/{batch_id}/results"
        return {
            "id": batch_id,
            "type": "message_batch",
            "processing_status": "ended",
            "results_url": results,
        }

    @app.get("/v1/messages/batches/{batch_id}/results")
    def anthropic_results(batch_id: str) -> PlainTextResponse:
        lines = [
            {"custom_id": "ok", "result": {"type": "succeeded", "message": good_message}},
            {"custom_id": "bad", "result": {"type": "succeeded", "message": {"content": []}}},
        ]
        return PlainTextResponse("\n".join(json.dumps(line) for line in lines))

    with BackgroundServer(app) as server:
        state = BatchState(status="completed", ended=True, result_files=("file-1",))
        openai_batches = batch_client(config(server.url, "openai"))
        anthropic_batches = batch_client(config(server.url, "anthropic"))
        answers = [
            *openai_batches.answers("batch-1", state),
            *anthropic_batches.answers("msgbatch-1", state),
        ]
    by_id = [(a.custom_id, a.reply.text if a.reply else None, a.error) for a in answers]
    assert [(custom_id, text) for custom_id, text, _ in by_id] == [
        ("ok", "A"),
        ("bad", None),
        ("ok", "A"),
        ("bad", None),
    ]
    assert "choices" in (by_id[1][2] or "") and "usage" in (by_id[3][2] or "")
