"""The simulated provider's rate-limit headers: both providers' families, requests and tokens,
on by default and switchable off (as many OpenAI-compatible servers send none)."""

from datetime import UTC, datetime
from typing import Any

import anthropic
import openai
import pytest

from judge_service.judging.prompt import render_prompt
from judge_service.judging.rate_headers import announced_limits
from judge_service.simulate.config import BURST_SECONDS
from tests.simulate.helpers import ant, fast, oai, stats

PROMPT = render_prompt("Which diagnosis fits?", None, "Final answer: a", "Final answer: b")


def openai_headers(server: Any) -> Any:
    raw = oai(server).chat.completions.with_raw_response.create(
        model="simulated-judge", messages=[{"role": "user", "content": PROMPT.user}]
    )
    return raw.headers


def anthropic_headers(server: Any) -> Any:
    raw = ant(server).messages.with_raw_response.create(
        model="simulated-judge", messages=[{"role": "user", "content": PROMPT.user}], max_tokens=64
    )
    return raw.headers


def test_openai_sends_requests_and_tokens_headers(make_server: Any) -> None:
    headers = openai_headers(make_server(fast(rpm_limit=600, tpm_limit=100_000)))
    assert headers["x-ratelimit-limit-requests"] == "600"
    assert headers["x-ratelimit-limit-tokens"] == "100000"
    assert int(headers["x-ratelimit-remaining-requests"]) == 600 * BURST_SECONDS // 60 - 1
    assert 0 < int(headers["x-ratelimit-remaining-tokens"]) < 100_000 * BURST_SECONDS // 60
    assert headers["x-ratelimit-reset-tokens"].endswith("s")
    assert announced_limits(headers) == (600, 100_000)


def test_anthropic_sends_requests_and_tokens_headers(make_server: Any) -> None:
    headers = anthropic_headers(make_server(fast(rpm_limit=600, tpm_limit=100_000)))
    assert headers["anthropic-ratelimit-requests-limit"] == "600"
    assert headers["anthropic-ratelimit-tokens-limit"] == "100000"
    reset = datetime.fromisoformat(headers["anthropic-ratelimit-tokens-reset"])
    assert reset >= datetime.now(UTC).replace(microsecond=0)
    assert announced_limits(headers) == (600, 100_000)


@pytest.mark.parametrize("headers_of", [openai_headers, anthropic_headers])
def test_headers_switched_off_are_not_sent_but_the_limit_holds(
    make_server: Any, headers_of: Any
) -> None:
    server = make_server(fast(rpm_limit=60, rpm_burst=1, tpm_limit=100_000, rate_headers=False))
    headers = headers_of(server)
    assert not [name for name in headers if "ratelimit" in name]
    assert announced_limits(headers) == (None, None)
    with pytest.raises((openai.RateLimitError, anthropic.RateLimitError)) as refused:
        headers_of(server)
    assert int(refused.value.response.headers["retry-after"]) >= 1
    assert stats(server)["rate_limited"] == 1


def test_a_spent_token_quota_refuses_until_it_refills(make_server: Any) -> None:
    server = make_server(fast(tpm_limit=60))  # 2 tokens of burst; one reply spends more
    openai_headers(server)
    with pytest.raises(openai.RateLimitError) as refused:
        openai_headers(server)
    assert refused.value.response.headers["x-ratelimit-remaining-tokens"] == "0"
    assert refused.value.body["type"] == "tokens"  # type: ignore[index]
