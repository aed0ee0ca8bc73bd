"""The simulated batch APIs through the real OpenAI and Anthropic SDKs, over real sockets.

Batches are created with a delay of an hour and ended by `POST /simulator/batches/release`,
so no test waits on a clock.
"""

import json
from collections.abc import Callable
from typing import Any

import anthropic
import httpx
import openai
import pytest
from anthropic.types import Message
from openai.types.chat import ChatCompletion

from judge_service.background import BackgroundServer
from judge_service.judging.prompt import Prompt, render_prompt
from judge_service.judging.protocol import TOOL_NAME, parse_structured, parse_text, verdict_schema
from judge_service.judging.rubrics import REASONING_TRACE
from judge_service.simulate.config import SimulatorConfig
from tests.simulate.helpers import (
    MODEL,
    QUESTION,
    RIGHT,
    WRONG,
    announced,
    ant,
    anthropic_message,
    fast,
    oai,
    openai_chat,
    random_pairs,
    stats,
    tool_input,
)

MakeServer = Callable[[SimulatorConfig], BackgroundServer]
HOUR = 3600.0


def prompts(count: int, *, structured: bool = False) -> list[Prompt]:
    """A right-vs-wrong pair in both orders, then random pairs the hash decides."""
    fixed = [
        render_prompt(QUESTION, "pneumonia", RIGHT, WRONG, structured=structured),
        render_prompt(QUESTION, "pneumonia", WRONG, RIGHT, structured=structured),
    ]
    rest = [
        render_prompt(QUESTION, None, a, b, rubric=REASONING_TRACE, structured=structured)
        for a, b in random_pairs(count - len(fixed), seed=5)
    ]
    return fixed + rest


def openai_body(prompt: Prompt, model: str = MODEL) -> dict[str, Any]:
    """The body the service sends, in text mode."""
    return {
        "model": model,
        "messages": [
            {"role": "system", "content": prompt.system},
            {"role": "user", "content": prompt.user},
        ],
        "max_tokens": 1024,
        "temperature": 0.0,
    }


def anthropic_params(prompt: Prompt, model: str = MODEL) -> dict[str, Any]:
    """The params the service sends, with forced tool use (structured mode)."""
    criteria, scale = announced(prompt)
    return {
        "model": model,
        "system": prompt.system,
        "messages": [{"role": "user", "content": prompt.user}],
        "max_tokens": 1024,
        "tools": [
            {
                "name": TOOL_NAME,
                "description": "Record the verdict.",
                "input_schema": verdict_schema(criteria, scale),
            }
        ],
        "tool_choice": {"type": "tool", "name": TOOL_NAME},
    }


def submit_openai(client: openai.OpenAI, bodies: dict[str, dict[str, Any]]) -> str:
    lines = [
        {"custom_id": cid, "method": "POST", "url": "/v1/chat/completions", "body": body}
        for cid, body in bodies.items()
    ]
    data = "".join(json.dumps(line) + "\n" for line in lines).encode()
    uploaded = client.files.create(file=("batch.jsonl", data, "application/jsonl"), purpose="batch")
    assert (uploaded.purpose, uploaded.bytes) == ("batch", len(data))
    batch = client.batches.create(
        input_file_id=uploaded.id,
        endpoint="/v1/chat/completions",
        completion_window="24h",
        metadata={"run": "7"},
    )
    assert batch.status == "validating" and batch.metadata == {"run": "7"}
    return batch.id


def openai_lines(client: openai.OpenAI, file_id: str | None) -> dict[str, dict[str, Any]]:
    if file_id is None:
        return {}
    lines = [json.loads(line) for line in client.files.content(file_id).text.splitlines()]
    return {line["custom_id"]: line for line in lines}


def release(server: BackgroundServer) -> int:
    response = httpx.post(server.url + "/simulator/batches/release").raise_for_status()
    return int(response.json()["released"])


def test_openai_batch_answers_every_request_as_the_live_route_would(
    make_server: MakeServer,
) -> None:
    server = make_server(fast(seed=4, batch_delay_s=HOUR))
    client = oai(server)
    asked = prompts(8)
    batch_id = submit_openai(client, {f"r{i}": openai_body(p) for i, p in enumerate(asked)})

    pending = client.batches.retrieve(batch_id)
    assert pending.status == "in_progress" and pending.output_file_id is None
    assert pending.request_counts is not None and pending.request_counts.total == 8
    assert release(server) == 1
    done = client.batches.retrieve(batch_id)
    assert done.status == "completed" and done.error_file_id is None
    assert done.request_counts is not None
    assert (done.request_counts.completed, done.request_counts.failed) == (8, 0)

    lines = openai_lines(client, done.output_file_id)
    assert set(lines) == {f"r{i}" for i in range(8)}
    overall = []
    for index, prompt in enumerate(asked):
        criteria, scale = announced(prompt)
        response = lines[f"r{index}"]["response"]
        assert response["status_code"] == 200
        batched = ChatCompletion.model_validate(response["body"]).choices[0].message.content
        live = openai_chat(client, prompt).choices[0].message.content
        verdict = parse_text(batched or "", criteria, scale)
        assert verdict == parse_text(live or "", criteria, scale)
        overall.append(verdict.overall.label)
    # The right trace wins in either slot: the replies come from the simulated rule.
    assert overall[:2] == ["A", "B"]

    counters = stats(server)
    assert counters["batches"] == {"openai": 1, "anthropic": 0}
    assert counters["batch_requests"] == {"openai": 8, "anthropic": 0}
    assert counters["requests"] == 8  # the live calls made for comparison, and only those


def test_anthropic_batch_answers_structured_requests_and_streams_results(
    make_server: MakeServer,
) -> None:
    server = make_server(fast(seed=4, batch_delay_s=HOUR))
    client = ant(server)
    asked = prompts(6, structured=True)
    batch = client.messages.batches.create(
        requests=[
            {"custom_id": f"j{i}_token", "params": anthropic_params(p)} for i, p in enumerate(asked)
        ]
    )
    assert batch.processing_status == "in_progress" and batch.results_url is None
    assert batch.request_counts.processing == 6
    with pytest.raises(anthropic.AnthropicError, match="finished processing"):
        client.messages.batches.results(batch.id)

    release(server)
    ended = client.messages.batches.retrieve(batch.id)
    assert ended.processing_status == "ended" and ended.ended_at is not None
    assert (ended.request_counts.succeeded, ended.request_counts.processing) == (6, 0)
    results = {entry.custom_id: entry.result for entry in client.messages.batches.results(batch.id)}
    assert set(results) == {f"j{i}_token" for i in range(6)}
    for index, prompt in enumerate(asked):
        criteria, scale = announced(prompt)
        result = results[f"j{index}_token"]
        assert result.type == "succeeded"
        message: Message = result.message
        live = anthropic_message(client, prompt, structured=True)
        batched = parse_structured(tool_input(message), criteria, scale)
        assert batched == parse_structured(tool_input(live), criteria, scale)
    assert stats(server)["batch_requests"] == {"openai": 0, "anthropic": 6}


def test_batch_error_rate_errors_first_attempts_and_lets_the_next_batch_through(
    make_server: MakeServer,
) -> None:
    server = make_server(fast(seed=4, batch_delay_s=HOUR, batch_error_rate=0.5))
    client = oai(server)
    asked = prompts(12)
    bodies = {f"r{i}": openai_body(p) for i, p in enumerate(asked)}
    first = submit_openai(client, bodies)
    release(server)
    done = client.batches.retrieve(first)
    errors = openai_lines(client, done.error_file_id)
    succeeded = openai_lines(client, done.output_file_id)
    # Some, not all: a partial failure, each request in exactly one of the two files.
    assert errors and succeeded and set(errors) | set(succeeded) == set(bodies)
    assert not set(errors) & set(succeeded)
    for line in errors.values():
        assert line["response"]["status_code"] == 500
        assert "Simulated" in line["response"]["body"]["error"]["message"]
    assert done.request_counts is not None and done.request_counts.failed == len(errors)

    again = submit_openai(client, {cid: bodies[cid] for cid in errors})
    release(server)
    retried = client.batches.retrieve(again)
    assert retried.error_file_id is None
    assert set(openai_lines(client, retried.output_file_id)) == set(errors)
    assert stats(server)["batch_errors"] == len(errors)


def test_persistent_batch_errors_come_back_in_every_batch(make_server: MakeServer) -> None:
    server = make_server(fast(batch_delay_s=HOUR))
    client = ant(server)
    model = f"{MODEL}@batch_error_rate=1,persistent_faults=1"
    asked = prompts(2, structured=True)
    for _attempt in range(2):
        batch = client.messages.batches.create(
            requests=[
                {"custom_id": f"j{i}", "params": anthropic_params(p, model)}
                for i, p in enumerate(asked)
            ]
        )
        release(server)
        ended = client.messages.batches.retrieve(batch.id)
        assert ended.request_counts.errored == 2
        for entry in client.messages.batches.results(batch.id):
            assert entry.result.type == "errored"
            assert entry.result.error.error.type == "api_error"


def test_refusals_and_unknown_batches(make_server: MakeServer) -> None:
    server = make_server(fast(batch_delay_s=HOUR))
    client, claude = oai(server), ant(server)
    with pytest.raises(openai.NotFoundError):
        client.batches.retrieve("batch_lost")
    with pytest.raises(anthropic.NotFoundError):
        claude.messages.batches.retrieve("msgbatch_lost")
    with pytest.raises(openai.NotFoundError):
        client.files.content("file-lost")
    with pytest.raises(openai.BadRequestError, match="purpose"):
        client.files.create(file=("x.jsonl", b"{}\n"), purpose="fine-tune")
    params = anthropic_params(prompts(2)[0])
    with pytest.raises(anthropic.BadRequestError, match="not unique"):
        claude.messages.batches.create(requests=[{"custom_id": "same", "params": params}] * 2)
    with pytest.raises(anthropic.BadRequestError, match="custom_id"):
        claude.messages.batches.create(requests=[{"custom_id": "has space", "params": params}])

    # A file with a bad line fails the whole batch at validation, as OpenAI does.
    good = json.dumps(
        {"custom_id": "a", "method": "POST", "url": "/v1/chat/completions", "body": {}}
    )
    data = (good + "\n" + json.dumps({"custom_id": "b", "url": "/v1/embeddings"}) + "\n").encode()
    uploaded = client.files.create(file=("bad.jsonl", data), purpose="batch")
    batch = client.batches.create(
        input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    failed = client.batches.retrieve(batch.id)
    assert failed.status == "failed" and failed.output_file_id is None
    assert failed.errors is not None and failed.errors.data is not None
    assert [error.line for error in failed.errors.data] == [2]


def test_bad_request_inside_a_batch_is_that_request_s_error(make_server: MakeServer) -> None:
    server = make_server(fast(batch_delay_s=HOUR))
    client = oai(server)
    body = openai_body(prompts(2)[0])
    batch_id = submit_openai(client, {"good": body, "bad": {**body, "messages": []}})
    release(server)
    done = client.batches.retrieve(batch_id)
    assert set(openai_lines(client, done.output_file_id)) == {"good"}
    bad = openai_lines(client, done.error_file_id)["bad"]["response"]
    assert bad["status_code"] == 400 and "messages" in bad["body"]["error"]["message"]


def test_cancel_ends_a_batch_without_answers(make_server: MakeServer) -> None:
    server = make_server(fast(batch_delay_s=HOUR))
    client, claude = oai(server), ant(server)
    batch_id = submit_openai(client, {"r": openai_body(prompts(2)[0])})
    cancelled = client.batches.cancel(batch_id)
    assert cancelled.status == "cancelled" and cancelled.output_file_id is None

    batch = claude.messages.batches.create(
        requests=[{"custom_id": "c", "params": anthropic_params(prompts(2)[0])}]
    )
    ended = claude.messages.batches.cancel(batch.id)
    assert ended.processing_status == "ended" and ended.request_counts.canceled == 1
    assert [entry.result.type for entry in claude.messages.batches.results(batch.id)] == [
        "canceled"
    ]
    assert stats(server)["batch_requests"] == {"openai": 0, "anthropic": 0}


def test_batch_routes_are_labelled_simulated(make_server: MakeServer) -> None:
    server = make_server(fast(batch_delay_s=HOUR))
    response = httpx.get(server.url + "/v1/batches/batch_nothing")
    assert response.status_code == 404
    assert response.headers["x-simulated-judge"] == "true"
    assert "simulated" in response.json()["error"]["message"]
