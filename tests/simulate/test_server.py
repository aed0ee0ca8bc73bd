"""The simulated provider through the real OpenAI and Anthropic SDKs, over real sockets."""

import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import anthropic
import httpx
import openai
import pytest

from judge_service.background import BackgroundServer
from judge_service.judging.prompt import Prompt, render_prompt
from judge_service.judging.protocol import Scale, VerdictParseError, parse_text
from judge_service.judging.rubrics import REASONING_TRACE
from judge_service.judging.verdicts import SlotLabel, parse_label
from judge_service.simulate.config import SimulatorConfig
from tests.simulate.helpers import (
    MIRROR_LABEL,
    PNG_DATA_URL,
    QUESTION,
    RIGHT,
    WRONG,
    announced,
    ant,
    anthropic_message,
    ask_text,
    fast,
    judged,
    labels,
    oai,
    openai_chat,
    random_pairs,
    stats,
)


def overall(text: str, prompt: Prompt) -> str:
    criteria, scale = announced(prompt)
    return parse_text(text, criteria, scale).overall.label


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
    assert overall(text, forward) == "A"
    assert parse_label(text) is SlotLabel.A  # the classic bare-label reading agrees
    assert completion.usage is not None
    assert completion.usage.prompt_tokens >= len(forward.system + forward.user) // 4
    assert completion.usage.completion_tokens > 0
    total = completion.usage.prompt_tokens + completion.usage.completion_tokens
    assert completion.usage.total_tokens == total

    backward = render_prompt(QUESTION, "pneumonia", WRONG, RIGHT)
    assert overall(ask_text(client, backward), backward) == "B"


def test_anthropic_reply_follows_the_reference_rule(server: BackgroundServer) -> None:
    client = ant(server)
    forward = render_prompt(QUESTION, "Pneumonia", RIGHT, WRONG, scale=Scale.FIVE)
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
    assert overall(text, forward) == "A>>B"
    assert message.usage.input_tokens > 0
    assert message.usage.output_tokens > 0

    backward = render_prompt(QUESTION, "Pneumonia", WRONG, RIGHT, scale=Scale.FIVE)
    assert overall(ask_text(client, backward), backward) == "B>>A"


@pytest.mark.parametrize("scale", [Scale.THREE, Scale.FIVE])
@pytest.mark.parametrize("reference", [None, "pneumonia"])
def test_text_reply_has_one_verdict_line_per_announced_criterion(
    server: BackgroundServer, scale: Scale, reference: str | None
) -> None:
    prompt = render_prompt(QUESTION, reference, RIGHT, WRONG, rubric=REASONING_TRACE, scale=scale)
    criteria, _ = announced(prompt)
    text = ask_text(oai(server), prompt)
    lines = text.splitlines()[-len(criteria) :]
    assert [line.split(":", 1)[0] for line in lines] == criteria
    assert all("[[" in line and "simulated rule:" in line for line in lines)
    verdict = parse_text(text, criteria, scale)
    assert list(verdict.rulings) == criteria
    assert ("answer" in criteria) is (reference is not None)


def test_unbiased_judge_mirrors_every_criterion_on_both_routes(server: BackgroundServer) -> None:
    openai_client, anthropic_client = oai(server), ant(server)
    seen: Counter[str] = Counter()
    for a, b in random_pairs(30, seed=1):
        for scale in (Scale.THREE, Scale.FIVE):
            forward = render_prompt(QUESTION, None, a, b, rubric=REASONING_TRACE, scale=scale)
            backward = render_prompt(QUESTION, None, b, a, rubric=REASONING_TRACE, scale=scale)
            first = labels(judged(openai_client, forward))
            second = labels(judged(openai_client, backward))
            assert second == {name: MIRROR_LABEL[label] for name, label in first.items()}
            # The same pair in the same order gets the same verdict on either wire format.
            assert labels(judged(anthropic_client, forward)) == first
            assert labels(judged(anthropic_client, backward)) == second
            seen.update(first.values())
    assert seen["A"] > 5 and seen["B"] > 5 and seen["A>B"] > 5 and seen["B>A"] > 5
    assert seen["C"] > 0 and seen["A=B"] > 0


def test_fully_biased_judge_always_says_a(make_server: Any) -> None:
    biased = make_server(fast(position_bias=1.0))
    client = oai(biased)
    for a, b in random_pairs(40, seed=2):
        for first, second in ((a, b), (b, a)):
            prompt = render_prompt(QUESTION, None, first, second)
            assert parse_label(ask_text(client, prompt)) is SlotLabel.A
    prompt = render_prompt(QUESTION, "pneumonia", WRONG, RIGHT, rubric=REASONING_TRACE)
    five = render_prompt(
        QUESTION, "pneumonia", WRONG, RIGHT, rubric=REASONING_TRACE, scale=Scale.FIVE
    )
    assert set(labels(judged(client, prompt)).values()) == {"A"}
    assert set(labels(judged(client, five)).values()) == {"A>B"}  # bias is never strong
    counters = stats(biased)
    assert counters["bias_firings"] == 82
    assert counters["verdicts"]["A"] == 82


def test_half_biased_judge_forces_a_about_half_the_time(make_server: Any) -> None:
    biased = make_server(fast(position_bias=0.5, seed=21))
    client = ant(biased)
    replies = [
        ask_text(client, render_prompt(QUESTION, None, a, b)) for a, b in random_pairs(200, seed=3)
    ]
    forced = sum("Position bias fired" in text for text in replies)
    assert 0.35 <= forced / len(replies) <= 0.65
    assert stats(biased)["bias_firings"] == forced
    assert all(parse_label(text) is SlotLabel.A for text in replies if "bias fired" in text)
    # Replaying the same pairs (fresh boundary codes) gives the same replies, on either route:
    # the draw is keyed on the content, not on the call or the random boundary.
    again = [
        ask_text(client, render_prompt(QUESTION, None, a, b)) for a, b in random_pairs(20, seed=3)
    ]
    assert again == replies[:20]
    other_route = [
        ask_text(oai(biased), render_prompt(QUESTION, None, a, b))
        for a, b in random_pairs(20, seed=3)
    ]
    assert other_route == replies[:20]


def test_per_model_override_makes_one_server_several_judges(server: BackgroundServer) -> None:
    client = oai(server)
    prompt = render_prompt(QUESTION, "pneumonia", WRONG, RIGHT)
    assert parse_label(ask_text(client, prompt)) is SlotLabel.B
    forced = ask_text(client, prompt, model="simulated-judge@position_bias=1.0")
    assert parse_label(forced) is SlotLabel.A
    anthropic_reply = ask_text(ant(server), prompt, model="simulated-judge@position_bias=1")
    assert parse_label(anthropic_reply) is SlotLabel.A
    no_reference = render_prompt(QUESTION, None, "first trace.", "second trace.")
    tie = ask_text(client, no_reference, model="simulated-judge@tie_rate=1,seed=5")
    assert parse_label(tie) is SlotLabel.TIE


def test_unknown_override_knob_is_a_400(server: BackgroundServer) -> None:
    prompt = render_prompt(QUESTION, None, "a.", "b.")
    with pytest.raises(openai.BadRequestError) as caught:
        ask_text(oai(server), prompt, model="simulated-judge@temperature=0.5")
    assert caught.value.status_code == 400
    assert "temperature" in caught.value.message
    assert caught.value.response.headers["x-simulated-judge"] == "true"
    with pytest.raises(anthropic.BadRequestError) as caught_anthropic:
        ask_text(ant(server), prompt, model="simulated-judge@position_bias=7")
    body = caught_anthropic.value.body
    assert isinstance(body, dict) and body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error"
    assert "position_bias" in body["error"]["message"]


def test_image_parts_are_accepted_and_counted_on_both_routes(make_server: Any) -> None:
    sim = make_server(fast())
    prompt = render_prompt(QUESTION, "pneumonia", WRONG, RIGHT, image_count=2)
    openai_content = [
        {"type": "text", "text": prompt.user},
        {"type": "image_url", "image_url": {"url": PNG_DATA_URL}},
        {
            "type": "image_url",
            "image_url": {"url": "https://example.invalid/x.png", "detail": "low"},
        },
    ]
    text = ask_text(oai(sim), prompt, user_content=openai_content)
    assert overall(text, prompt) == "B"
    assert "saw 2 image(s)" in text
    anthropic_content = [
        {"type": "image", "source": {"type": "url", "url": "https://example.invalid/x.png"}},
        {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
        },
        {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/"}},
        {"type": "text", "text": prompt.user},
    ]
    text = ask_text(ant(sim), prompt, user_content=anthropic_content)
    assert overall(text, prompt) == "B"
    assert "saw 3 image(s)" in text
    plain = ask_text(oai(sim), prompt)
    assert "image(s)" not in plain.split("\n\n")[0]
    counters = stats(sim)
    assert counters["images_received"] == 5
    # Images do not change the verdict: the rule never looks at them.
    assert plain.splitlines()[-1] == text.splitlines()[-1]


@pytest.mark.parametrize(
    "part",
    [
        {"type": "image_url", "image_url": "https://example.invalid/x.png"},
        {"type": "image_url", "image_url": {"url": "ftp://example.invalid/x.png"}},
        {"type": "image_url", "image_url": {"url": "data:text/plain;base64,aGk="}},
        {"type": "image_url", "image_url": {"url": PNG_DATA_URL, "detail": "huge"}},
        {"type": "image", "source": {"type": "url", "url": "https://example.invalid/x.png"}},
        {"type": "video_url", "video_url": {"url": "https://example.invalid/x.mp4"}},
        {"type": "text", "text": 5},
    ],
)
def test_malformed_openai_parts_are_a_400(server: BackgroundServer, part: dict[str, Any]) -> None:
    prompt = render_prompt(QUESTION, None, "a.", "b.")
    with pytest.raises(openai.BadRequestError):
        ask_text(oai(server), prompt, user_content=[{"type": "text", "text": prompt.user}, part])


@pytest.mark.parametrize(
    "block",
    [
        {"type": "image", "source": {"type": "base64", "media_type": "image/tiff", "data": "x"}},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": ""}},
        {"type": "image", "source": {"type": "url", "url": "file:///etc/passwd"}},
        {"type": "image", "source": {"type": "path", "path": "/tmp/x.png"}},
        {"type": "image"},
        {"type": "image_url", "image_url": {"url": PNG_DATA_URL}},
    ],
)
def test_malformed_anthropic_blocks_are_a_400(
    server: BackgroundServer, block: dict[str, Any]
) -> None:
    prompt = render_prompt(QUESTION, None, "a.", "b.")
    with pytest.raises(anthropic.BadRequestError):
        ask_text(ant(server), prompt, user_content=[block, {"type": "text", "text": prompt.user}])


def test_the_prompt_is_the_first_user_message_with_a_boundary_line(
    server: BackgroundServer,
) -> None:
    prompt = render_prompt(QUESTION, "pneumonia", RIGHT, WRONG)
    decoy = render_prompt(QUESTION, "pneumonia", WRONG, RIGHT)
    completion = oai(server).chat.completions.create(
        model="simulated-judge",
        messages=[
            {"role": "system", "content": prompt.system},
            {"role": "user", "content": "Some preamble without a boundary line."},
            {"role": "user", "content": prompt.user},
            {"role": "user", "content": decoy.user},
        ],
    )
    assert overall(completion.choices[0].message.content or "", prompt) == "A"


def test_openai_rate_limit(make_server: Any) -> None:
    limited = make_server(fast(rpm_limit=60, rpm_burst=3))
    client = oai(limited)
    prompt = render_prompt(QUESTION, None, "a.", "b.")
    assert stats(limited)["first_request_at"] is None
    before = time.time()
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
    # The burst, plus the tokens refilled meanwhile (one a second at 60 rpm): on a loaded
    # machine (the suite in parallel) the ten calls can take seconds.
    assert 3 <= ok <= 4 + int(time.time() - before)
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
    # Refused requests count too: the window a client's request rate is measured over.
    assert before <= counters["first_request_at"] < counters["last_request_at"] <= time.time()


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
        ask_text(client, prompt)
    retry_after = int(caught.value.response.headers["retry-after"])
    assert retry_after >= 1
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["error"]["type"] == "rate_limit_error"
    time.sleep(retry_after)
    assert parse_label(ask_text(client, prompt)) is not None
    counters = stats(limited)
    assert (counters["requests"], counters["rate_limited"]) == (3, 1)


def test_error_rate_one_fails_every_request(make_server: Any) -> None:
    failing = make_server(fast(error_rate=1.0, seed=5))
    prompt = render_prompt(QUESTION, None, "a.", "b.")
    with pytest.raises(openai.InternalServerError) as caught:
        ask_text(oai(failing), prompt)
    assert caught.value.status_code == 500
    assert isinstance(caught.value.body, dict) and caught.value.body["type"] == "server_error"
    statuses: Counter[int] = Counter()
    for _ in range(20):
        with pytest.raises(anthropic.InternalServerError) as failure:
            ask_text(ant(failing), prompt)
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
    prompt = render_prompt(QUESTION, "pneumonia", WRONG, RIGHT, rubric=REASONING_TRACE)
    outcomes: list[dict[str, str] | None] = []
    for _ in range(30):
        try:
            outcomes.append(labels(judged(client, prompt)))
        except openai.InternalServerError:
            outcomes.append(None)
    successes = [verdict for verdict in outcomes if verdict is not None]
    assert 5 < len(successes) < 25
    assert all(verdict == successes[0] for verdict in successes)
    assert successes[0]["overall"] == successes[0]["answer"] == "B"


@pytest.mark.parametrize(
    "prompt",
    [
        Prompt(system="You are helpful.", user="Which is better, [Trace A] or trace B?"),
        # The pairwise template, but a system prompt that announces no criteria or labels.
        Prompt(system="You are helpful.", user=render_prompt(QUESTION, None, "a.", "b.").user),
        # Criteria announced, but the sections do not carry the message's boundary code.
        Prompt(
            system=render_prompt(QUESTION, None, "a.", "b.").system,
            user=render_prompt(QUESTION, None, "a.", "b.", boundary="aaaa").user.replace(
                "BEGIN TRACE B aaaa", "BEGIN TRACE B bbbb"
            ),
        ),
    ],
)
def test_unparseable_prompt_gets_no_label(server: BackgroundServer, prompt: Prompt) -> None:
    before = stats(server)["verdicts"]["none"]
    for client in (oai(server), ant(server)):
        text = ask_text(client, prompt)
        assert text.startswith("Simulated judge (not a real model):")
        assert parse_label(text) is None and "[[" not in text
        with pytest.raises(VerdictParseError):
            parse_text(text, ["overall"], Scale.THREE)
    assert stats(server)["verdicts"]["none"] == before + 2


def test_max_tokens_cuts_the_reply_like_a_real_model(server: BackgroundServer) -> None:
    prompt = render_prompt(QUESTION, "pneumonia", RIGHT, WRONG)
    before = stats(server)
    response = openai_chat(oai(server), prompt, max_tokens=5)
    assert response.choices[0].finish_reason == "length"
    assert parse_label(response.choices[0].message.content or "") is None
    message = anthropic_message(ant(server), prompt, max_tokens=5)
    assert message.stop_reason == "max_tokens"
    structured = anthropic_message(ant(server), prompt, structured=True, max_tokens=5)
    assert structured.stop_reason == "max_tokens"
    assert [block.type for block in structured.content] == ["tool_use"]
    assert structured.content[0].input == {}  # type: ignore[union-attr]
    after = stats(server)
    assert after["verdicts"]["none"] == before["verdicts"]["none"] + 3
    assert after["truncated_sent"] == before["truncated_sent"] + 3


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/chat/completions", b"{not json"),
        ("/v1/chat/completions", b'{"messages": [{"role": "user", "content": "x"}]}'),
        ("/v1/chat/completions", b'{"model": "m", "messages": []}'),
        ("/v1/chat/completions", b'{"model": "m", "messages": [{"role": "user"}]}'),
        ("/v1/chat/completions", b'{"model": "m", "messages": [{"role": "robot", "content": ""}]}'),
        ("/v1/chat/completions", b"[1, 2]"),
        ("/v1/messages", b"{not json"),
        ("/v1/messages", b'{"model": "m", "messages": [{"role": "user", "content": "x"}]}'),
        ("/v1/messages", b'{"model": "m", "max_tokens": 9}'),
        ("/v1/messages", b'{"model": "m", "max_tokens": 0, "messages": []}'),
        (
            "/v1/messages",
            b'{"model": "m", "max_tokens": 9, "system": [{"type": "image"}],'
            b' "messages": [{"role": "user", "content": "x"}]}',
        ),
    ],
)
def test_malformed_requests_get_provider_style_400(
    server: BackgroundServer, path: str, body: bytes
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
    assert set(counters) >= {
        "rate_limited",
        "server_errors",
        "verdicts",
        "bias_firings",
        "images_received",
        "malformed_sent",
        "truncated_sent",
        "followups",
        "obeyed_injections",
        "structured_requests",
    }
    assert set(counters["verdicts"]) == {"A", "B", "C", "none"}
    assert httpx.get(server.url + "/nowhere").headers["x-simulated-judge"] == "true"


def test_latency_is_applied(make_server: Any) -> None:
    slow = make_server(SimulatorConfig(latency_mean_s=0.25, latency_jitter_s=0.05))
    client = oai(slow)
    prompt = render_prompt(QUESTION, None, "a.", "b.")
    ask_text(client, prompt)  # warm the connection
    started = time.perf_counter()
    ask_text(client, prompt)
    assert time.perf_counter() - started >= 0.2


def test_servers_do_not_share_state(make_server: Any) -> None:
    first, second = make_server(fast()), make_server(fast())
    ask_text(oai(first), render_prompt(QUESTION, None, "a.", "b."))
    assert stats(first)["requests"] == 1
    assert stats(second)["requests"] == 0
