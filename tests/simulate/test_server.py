"""The simulated provider through the real OpenAI and Anthropic SDKs, over real sockets."""

import random
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import anthropic
import httpx
import openai
import pytest

from judge_service.background import BackgroundServer
from judge_service.judging.prompt import Prompt, render_prompt
from judge_service.judging.verdicts import SlotLabel, parse_label
from judge_service.simulate.config import SimulatorConfig
from judge_service.simulate.server import create_app

MIRROR = {SlotLabel.A: SlotLabel.B, SlotLabel.B: SlotLabel.A, SlotLabel.TIE: SlotLabel.TIE}
RIGHT = "The opacity is confined to one lobe with air bronchograms.\nFinal answer: Pneumonia."
WRONG = "The heart looks enlarged, so fluid is likely.\nFinal answer: pulmonary edema"
QUESTION = "What is the most likely diagnosis on this chest X-ray?"


def fast(**knobs: Any) -> SimulatorConfig:
    return SimulatorConfig(latency_mean_s=0.0, latency_jitter_s=0.0, **knobs)


@pytest.fixture
def make_server() -> Iterator[Any]:
    servers: list[BackgroundServer] = []

    def make(config: SimulatorConfig) -> BackgroundServer:
        server = BackgroundServer(create_app(config))
        server.start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def server() -> Iterator[BackgroundServer]:
    with BackgroundServer(create_app(fast(seed=3))) as running:
        yield running


def oai(server: BackgroundServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key="sim", max_retries=0)


def ant(server: BackgroundServer) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=server.url, api_key="sim", max_retries=0)


def ask_openai(client: openai.OpenAI, prompt: Prompt, model: str = "simulated-judge") -> str:
    response = client.chat.completions.create(
        model=model,
        messages=[
            {"role": "system", "content": prompt.system},
            {"role": "user", "content": prompt.user},
        ],
        max_tokens=1024,
        temperature=0.0,
    )
    return response.choices[0].message.content or ""


def ask_anthropic(
    client: anthropic.Anthropic, prompt: Prompt, model: str = "simulated-judge"
) -> str:
    response = client.messages.create(
        model=model,
        system=prompt.system,
        messages=[{"role": "user", "content": prompt.user}],
        max_tokens=1024,
    )
    return "".join(block.text for block in response.content if block.type == "text")


def stats(server: BackgroundServer) -> dict[str, Any]:
    return httpx.get(server.url + "/simulator/stats").raise_for_status().json()


def random_pairs(count: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    words = [
        "opacity",
        "effusion",
        "lobe",
        "margin",
        "rib",
        "heart",
        "nodule",
        "size",
        "border",
        "density",
    ]

    def trace() -> str:
        return " ".join(rng.choice(words) for _ in range(rng.randint(6, 30))) + "."

    return [(trace(), trace()) for _ in range(count)]


def test_openai_reply_follows_the_reference_rule(server: BackgroundServer) -> None:
    client = oai(server)
    forward = render_prompt(QUESTION, "pneumonia", RIGHT, WRONG)
    raw = client.chat.completions.with_raw_response.create(
        model="simulated-judge",
        messages=[
            {"role": "system", "content": forward.system},
            {"role": "user", "content": forward.user},
        ],
        max_tokens=1024,
    )
    assert raw.headers["x-simulated-judge"] == "true"
    completion = raw.parse()
    assert completion.object == "chat.completion"
    assert completion.id.startswith("chatcmpl-")
    assert completion.model == "simulated-judge"
    choice = completion.choices[0]
    assert (choice.finish_reason, choice.message.role) == ("stop", "assistant")
    text = choice.message.content or ""
    assert text.startswith("Simulated judge (not a real model):")
    assert parse_label(text) is SlotLabel.A
    assert completion.usage is not None
    assert completion.usage.prompt_tokens >= len(forward.system + forward.user) // 4
    assert completion.usage.completion_tokens > 0
    total = completion.usage.prompt_tokens + completion.usage.completion_tokens
    assert completion.usage.total_tokens == total

    backward = render_prompt(QUESTION, "pneumonia", WRONG, RIGHT)
    assert parse_label(ask_openai(client, backward)) is SlotLabel.B


def test_anthropic_reply_follows_the_reference_rule(server: BackgroundServer) -> None:
    client = ant(server)
    forward = render_prompt(QUESTION, "Pneumonia", RIGHT, WRONG)
    raw = client.messages.with_raw_response.create(
        model="simulated-judge",
        system=forward.system,
        messages=[{"role": "user", "content": forward.user}],
        max_tokens=1024,
    )
    assert raw.headers["x-simulated-judge"] == "true"
    message = raw.parse()
    assert (message.type, message.role, message.model) == (
        "message",
        "assistant",
        "simulated-judge",
    )
    assert message.id.startswith("msg_")
    assert (message.stop_reason, message.stop_sequence) == ("end_turn", None)
    assert [block.type for block in message.content] == ["text"]
    text = message.content[0].text  # type: ignore[union-attr]
    assert text.startswith("Simulated judge (not a real model):")
    assert parse_label(text) is SlotLabel.A
    assert message.usage.input_tokens > 0
    assert message.usage.output_tokens > 0

    backward = render_prompt(QUESTION, "Pneumonia", WRONG, RIGHT)
    assert parse_label(ask_anthropic(client, backward)) is SlotLabel.B


def test_content_part_lists_are_joined(server: BackgroundServer) -> None:
    prompt = render_prompt(QUESTION, "pneumonia", WRONG, RIGHT)
    image = "data:image/png;base64,iVBORw0KGgo="
    response = oai(server).chat.completions.create(
        model="simulated-judge",
        messages=[
            {"role": "system", "content": prompt.system},
            {
                "role": "user",
                "content": [
                    {"type": "image_url", "image_url": {"url": image}},
                    {"type": "text", "text": prompt.user},
                ],
            },
        ],
        max_completion_tokens=1024,
    )
    assert parse_label(response.choices[0].message.content or "") is SlotLabel.B

    message = ant(server).messages.create(
        model="simulated-judge",
        system=[{"type": "text", "text": prompt.system}],
        messages=[
            {
                "role": "user",
                "content": [
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"},
                    },
                    {"type": "text", "text": prompt.user},
                ],
            }
        ],
        max_tokens=1024,
    )
    assert parse_label(message.content[0].text) is SlotLabel.B  # type: ignore[union-attr]


def test_unbiased_judge_is_position_consistent_on_both_routes(server: BackgroundServer) -> None:
    openai_client, anthropic_client = oai(server), ant(server)
    labels: Counter[SlotLabel] = Counter()
    for a, b in random_pairs(40, seed=1):
        forward, backward = render_prompt(QUESTION, None, a, b), render_prompt(QUESTION, None, b, a)
        first = parse_label(ask_openai(openai_client, forward))
        second = parse_label(ask_openai(openai_client, backward))
        assert first is not None and second is MIRROR[first]
        # The same prompt gets the same verdict whichever wire format carries it.
        assert parse_label(ask_anthropic(anthropic_client, forward)) is first
        assert parse_label(ask_anthropic(anthropic_client, backward)) is second
        labels[first] += 1
    assert labels[SlotLabel.A] > 5 and labels[SlotLabel.B] > 5


def test_fully_biased_judge_always_says_a(make_server: Any) -> None:
    biased = make_server(fast(position_bias=1.0))
    client = oai(biased)
    for a, b in random_pairs(40, seed=2):
        assert parse_label(ask_openai(client, render_prompt(QUESTION, None, a, b))) is SlotLabel.A
        assert parse_label(ask_openai(client, render_prompt(QUESTION, None, b, a))) is SlotLabel.A
    assert stats(biased)["bias_firings"] == 80
    assert stats(biased)["verdicts"]["A"] == 80


def test_half_biased_judge_forces_a_about_half_the_time(make_server: Any) -> None:
    biased = make_server(fast(position_bias=0.5, seed=21))
    client = ant(biased)
    replies = [
        ask_anthropic(client, render_prompt(QUESTION, None, a, b))
        for a, b in random_pairs(200, seed=3)
    ]
    forced = sum("Position bias fired" in text for text in replies)
    assert 0.35 <= forced / len(replies) <= 0.65
    assert stats(biased)["bias_firings"] == forced
    assert all(parse_label(text) is SlotLabel.A for text in replies if "bias fired" in text)
    # Replaying the same prompts gives the same replies: the draw is per prompt, not per call.
    again = [
        ask_anthropic(client, render_prompt(QUESTION, None, a, b))
        for a, b in random_pairs(20, seed=3)
    ]
    assert again == replies[:20]


def test_per_model_override_makes_one_server_several_judges(server: BackgroundServer) -> None:
    client = oai(server)
    prompt = render_prompt(QUESTION, "pneumonia", WRONG, RIGHT)
    assert parse_label(ask_openai(client, prompt)) is SlotLabel.B
    assert (
        parse_label(ask_openai(client, prompt, "simulated-judge@position_bias=1.0")) is SlotLabel.A
    )
    anthropic_reply = ask_anthropic(ant(server), prompt, "simulated-judge@position_bias=1")
    assert parse_label(anthropic_reply) is SlotLabel.A
    no_reference = render_prompt(QUESTION, None, "first trace.", "second trace.")
    tie = ask_openai(client, no_reference, "simulated-judge@tie_rate=1,seed=5")
    assert parse_label(tie) is SlotLabel.TIE


def test_unknown_override_knob_is_a_400(server: BackgroundServer) -> None:
    prompt = render_prompt(QUESTION, None, "a.", "b.")
    with pytest.raises(openai.BadRequestError) as caught:
        ask_openai(oai(server), prompt, "simulated-judge@temperature=0.5")
    assert caught.value.status_code == 400
    assert "temperature" in caught.value.message
    assert caught.value.response.headers["x-simulated-judge"] == "true"
    with pytest.raises(anthropic.BadRequestError) as caught_anthropic:
        ask_anthropic(ant(server), prompt, "simulated-judge@position_bias=7")
    body = caught_anthropic.value.body
    assert isinstance(body, dict) and body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error"
    assert "position_bias" in body["error"]["message"]


def test_openai_rate_limit(make_server: Any) -> None:
    limited = make_server(fast(rpm_limit=60, rpm_burst=3))
    client = oai(limited)
    prompt = render_prompt(QUESTION, None, "a.", "b.")
    ok, refused = 0, []
    for _ in range(10):
        try:
            raw = client.chat.completions.with_raw_response.create(
                model="simulated-judge",
                messages=[{"role": "user", "content": prompt.user}],
            )
        except openai.RateLimitError as exc:
            refused.append(exc)
            continue
        ok += 1
        assert raw.headers["x-ratelimit-limit-requests"] == "60"
        assert int(raw.headers["x-ratelimit-remaining-requests"]) >= 0
        assert raw.headers["x-ratelimit-reset-requests"].endswith("s")
    assert 3 <= ok <= 5  # the burst, plus at most a refilled token or two
    assert refused
    for exc in refused:
        assert exc.status_code == 429
        assert int(exc.response.headers["retry-after"]) >= 1
        assert exc.response.headers["x-ratelimit-remaining-requests"] == "0"
        assert exc.response.headers["x-simulated-judge"] == "true"
        assert isinstance(exc.body, dict) and exc.body["code"] == "rate_limit_exceeded"
    counters = stats(limited)
    assert counters["requests"] == counters["by_route"]["openai"] == 10
    assert counters["rate_limited"] == len(refused)
    assert sum(counters["verdicts"].values()) == ok


def test_anthropic_rate_limit_and_recovery(make_server: Any) -> None:
    limited = make_server(fast(rpm_limit=120, rpm_burst=1))
    client = ant(limited)
    prompt = render_prompt(QUESTION, None, "a.", "b.")
    raw = client.messages.with_raw_response.create(
        model="simulated-judge", messages=[{"role": "user", "content": prompt.user}], max_tokens=64
    )
    assert raw.headers["anthropic-ratelimit-requests-limit"] == "120"
    assert raw.headers["anthropic-ratelimit-requests-remaining"] == "0"
    reset = datetime.fromisoformat(raw.headers["anthropic-ratelimit-requests-reset"])
    assert reset.tzinfo is not None and reset >= datetime.now(UTC).replace(microsecond=0)
    with pytest.raises(anthropic.RateLimitError) as caught:
        ask_anthropic(client, prompt)
    retry_after = int(caught.value.response.headers["retry-after"])
    assert retry_after >= 1
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["error"]["type"] == "rate_limit_error"
    time.sleep(retry_after)
    assert parse_label(ask_anthropic(client, prompt)) is not None
    counters = stats(limited)
    assert (counters["requests"], counters["rate_limited"]) == (3, 1)


def test_error_rate_one_fails_every_request(make_server: Any) -> None:
    failing = make_server(fast(error_rate=1.0, seed=5))
    prompt = render_prompt(QUESTION, None, "a.", "b.")
    with pytest.raises(openai.InternalServerError) as caught:
        ask_openai(oai(failing), prompt)
    assert caught.value.status_code == 500
    assert isinstance(caught.value.body, dict) and caught.value.body["type"] == "server_error"
    statuses: Counter[int] = Counter()
    for _ in range(20):
        with pytest.raises(anthropic.InternalServerError) as failure:
            ask_anthropic(ant(failing), prompt)
        assert failure.value.status_code in (500, 529)
        expected = "overloaded_error" if failure.value.status_code == 529 else "api_error"
        assert isinstance(failure.value.body, dict)
        assert failure.value.body["error"]["type"] == expected
        statuses[failure.value.status_code] += 1
    assert statuses[500] > 0 and statuses[529] > 0
    counters = stats(failing)
    assert counters["server_errors"] == 21
    assert counters["errors_by_status"] == {"500": 1 + statuses[500], "529": statuses[529]}
    assert sum(counters["verdicts"].values()) == 0


def test_partial_error_rate_lets_a_retry_succeed_with_the_same_verdict(make_server: Any) -> None:
    flaky = make_server(fast(error_rate=0.5, seed=6))
    client = oai(flaky)
    prompt = render_prompt(QUESTION, "pneumonia", WRONG, RIGHT)
    outcomes = []
    for _ in range(30):
        try:
            outcomes.append(parse_label(ask_openai(client, prompt)))
        except openai.InternalServerError:
            outcomes.append(None)
    successes = [label for label in outcomes if label is not None]
    assert 5 < len(successes) < 25
    assert set(successes) == {SlotLabel.B}


def test_unparseable_prompt_gets_no_label(server: BackgroundServer) -> None:
    prompt = Prompt(system="You are helpful.", user="Which is better, [Trace A] or trace B?")
    openai_text = ask_openai(oai(server), prompt)
    anthropic_text = ask_anthropic(ant(server), prompt)
    for text in (openai_text, anthropic_text):
        assert text.startswith("Simulated judge (not a real model):")
        assert parse_label(text) is None


def test_max_tokens_cuts_the_reply_like_a_real_model(server: BackgroundServer) -> None:
    prompt = render_prompt(QUESTION, "pneumonia", RIGHT, WRONG)
    response = oai(server).chat.completions.create(
        model="simulated-judge",
        messages=[{"role": "user", "content": prompt.user}],
        max_tokens=5,
    )
    assert response.choices[0].finish_reason == "length"
    assert parse_label(response.choices[0].message.content or "") is None
    message = ant(server).messages.create(
        model="simulated-judge", messages=[{"role": "user", "content": prompt.user}], max_tokens=5
    )
    assert message.stop_reason == "max_tokens"


@pytest.mark.parametrize(
    ("path", "body", "error_type"),
    [
        ("/v1/chat/completions", b"{not json", None),
        ("/v1/chat/completions", b'{"messages": [{"role": "user", "content": "x"}]}', None),
        ("/v1/chat/completions", b'{"model": "m", "messages": []}', None),
        ("/v1/chat/completions", b'{"model": "m", "messages": [{"role": "user"}]}', None),
        ("/v1/chat/completions", b"[1, 2]", None),
        ("/v1/messages", b"{not json", "invalid_request_error"),
        ("/v1/messages", b'{"model": "m", "messages": [{"role": "user", "content": "x"}]}', None),
        ("/v1/messages", b'{"model": "m", "max_tokens": 9}', None),
        ("/v1/messages", b'{"model": "m", "max_tokens": 0, "messages": []}', None),
    ],
)
def test_malformed_requests_get_provider_style_400(
    server: BackgroundServer, path: str, body: bytes, error_type: str | None
) -> None:
    response = httpx.post(
        server.url + path, content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.headers["x-simulated-judge"] == "true"
    payload = response.json()
    if path == "/v1/messages":
        assert payload["type"] == "error"
        assert payload["error"]["type"] == "invalid_request_error"
        assert payload["error"]["message"]
    else:
        assert payload["error"]["type"] == "invalid_request_error"
        assert payload["error"]["message"]


def test_health_models_and_stats(server: BackgroundServer) -> None:
    health = httpx.get(server.url + "/healthz")
    assert health.json() == {"status": "ok", "simulated": True}
    assert health.headers["x-simulated-judge"] == "true"
    openai_models = oai(server).models.list().data
    assert [m.id for m in openai_models] == ["simulated-judge"]
    assert "SIMULATED" in openai_models[0].owned_by
    anthropic_models = ant(server).models.list().data
    assert [m.id for m in anthropic_models] == ["simulated-judge"]
    assert "SIMULATED" in anthropic_models[0].display_name
    counters = stats(server)
    assert counters["simulated"] is True
    by_route = counters["by_route"]
    assert counters["requests"] == by_route["openai"] + by_route["anthropic"]
    assert set(counters) >= {"rate_limited", "server_errors", "verdicts", "bias_firings"}
    assert set(counters["verdicts"]) == {"A", "B", "C", "none"}
    assert httpx.get(server.url + "/nowhere").headers["x-simulated-judge"] == "true"


def test_latency_is_applied(make_server: Any) -> None:
    slow = make_server(SimulatorConfig(latency_mean_s=0.25, latency_jitter_s=0.05))
    client = oai(slow)
    prompt = render_prompt(QUESTION, None, "a.", "b.")
    ask_openai(client, prompt)  # warm the connection
    started = time.perf_counter()
    ask_openai(client, prompt)
    assert time.perf_counter() - started >= 0.2


def test_servers_do_not_share_state(make_server: Any) -> None:
    first, second = make_server(fast()), make_server(fast())
    ask_openai(oai(first), render_prompt(QUESTION, None, "a.", "b."))
    assert stats(first)["requests"] == 1
    assert stats(second)["requests"] == 0
