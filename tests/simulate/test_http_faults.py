"""Transport faults: 429 with and without retry-after, 500, 529, a hang, a dropped connection.

Each hits the first `http_fault_attempts` attempts at a pair; the real SDKs
see them over a real socket and raise what they raise against a real provider.
"""

import time
from typing import Any

import anthropic
import openai
import pytest

from judge_service.judging.prompt import render_prompt
from judge_service.simulate.config import ModelOverrideError, SimulatorConfig
from tests.simulate.helpers import QUESTION, fast, stats

PROMPT = render_prompt(QUESTION, None, "a.", "b.")

# What each SDK raises once its retries are spent (timeouts and resets look alike to both).
RAISED: dict[str, tuple[type[Exception], type[Exception], int | None]] = {
    "429": (openai.RateLimitError, anthropic.RateLimitError, 429),
    "429-bare": (openai.RateLimitError, anthropic.RateLimitError, 429),
    "500": (openai.InternalServerError, anthropic.InternalServerError, 500),
    "529": (openai.InternalServerError, anthropic.InternalServerError, 529),
    "timeout": (openai.APITimeoutError, anthropic.APITimeoutError, None),
    "reset": (openai.APIConnectionError, anthropic.APIConnectionError, None),
}

EVERY_ROUTE_AND_FAULT = pytest.mark.parametrize(
    ("route", "fault"), [(route, fault) for route in ("openai", "anthropic") for fault in RAISED]
)


def ask(server: Any, route: str, retries: int, model: str = "simulated-judge") -> str:
    """One text-mode call through the route's SDK with `retries` SDK retries and a 1 s timeout."""
    options: dict[str, Any] = {"api_key": "sim", "max_retries": retries, "timeout": 1.0}
    if route == "openai":
        client = openai.OpenAI(base_url=server.url + "/v1", **options)
        reply = client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": PROMPT.user}]
        )
        return reply.choices[0].message.content or ""
    messages = anthropic.Anthropic(base_url=server.url, **options).messages
    message = messages.create(
        model=model, max_tokens=256, messages=[{"role": "user", "content": PROMPT.user}]
    )
    return "".join(block.text for block in message.content if block.type == "text")


@EVERY_ROUTE_AND_FAULT
def test_a_fault_outlasting_the_retries_fails_the_call_after_exactly_that_many_attempts(
    make_server: Any, route: str, fault: str
) -> None:
    server = make_server(fast(http_fault=fault, http_fault_attempts=2))
    openai_error, anthropic_error, status = RAISED[fault]
    with pytest.raises(openai_error if route == "openai" else anthropic_error) as caught:
        ask(server, route, retries=1)
    if status is not None:
        assert isinstance(caught.value, openai.APIStatusError | anthropic.APIStatusError)
        assert caught.value.status_code == status
        has_retry_after = "retry-after" in caught.value.response.headers
        assert has_retry_after == (fault == "429")
    counters = stats(server)
    assert counters["requests"] == 2
    assert counters["http_faults"] == {fault: 2}
    assert counters["verdicts"] == {"A": 0, "B": 0, "C": 0, "none": 0}


@EVERY_ROUTE_AND_FAULT
def test_a_fault_within_the_retries_is_retried_to_a_verdict(
    make_server: Any, route: str, fault: str
) -> None:
    server = make_server(fast(http_fault=fault, http_fault_attempts=1))
    assert "Simulated judge" in ask(server, route, retries=1)
    counters = stats(server)
    assert counters["requests"] == 2
    assert counters["http_faults"] == {fault: 1}
    assert sum(counters["verdicts"].values()) == 1


def test_retry_after_is_waited_out_by_the_sdk(make_server: Any) -> None:
    """A lower bound on the wait, so not a timing test: one retry-after of 1 s cannot take less."""
    server = make_server(fast(http_fault="429", http_fault_attempts=1))
    started = time.monotonic()
    ask(server, "openai", retries=1)
    assert time.monotonic() - started >= 1.0
    assert stats(server)["rate_limited"] == 1


def test_attempts_are_counted_per_pair_and_model(make_server: Any) -> None:
    server = make_server(fast())
    flaky = "simulated-judge@http_fault=500,http_fault_attempts=1"
    with pytest.raises(openai.InternalServerError):
        ask(server, "openai", retries=0, model=flaky)
    ask(server, "openai", retries=0, model=flaky)  # the second attempt at the pair goes through
    ask(server, "openai", retries=0)  # another model: its own attempts, and no fault
    assert stats(server)["http_faults"] == {"500": 1}


def test_unknown_fault_is_refused() -> None:
    with pytest.raises(ValueError, match="http_fault"):
        SimulatorConfig(http_fault="418")  # type: ignore[arg-type]
    with pytest.raises(ModelOverrideError, match="http_fault"):
        SimulatorConfig().knobs_for("simulated-judge@http_fault=418")
