"""Reading when to call next from OpenAI's and Anthropic's headers."""

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from judge_service.judging.rate_headers import exhausted_for_s, pause_s, retry_after_s

NOW = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after": "3"}, 3.0),
        ({"retry-after": "0.5"}, 0.5),
        ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5),
        ({"retry-after": format_datetime(NOW + timedelta(seconds=20), usegmt=True)}, 20.0),
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after(headers: dict[str, str], seconds: float | None) -> None:
    assert retry_after_s(headers, NOW) == seconds


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "1s"}, 1.0),
        ({"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "120ms"}, 0.12),
        ({"x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "6m0s"}, 360.0),
        ({"x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "1m30.5s"}, 90.5),
        (
            {
                "anthropic-ratelimit-requests-remaining": "0",
                "anthropic-ratelimit-requests-reset": "2026-11-28T12:00:07Z",
            },
            7.0,
        ),
        (
            {
                "x-ratelimit-limit-requests": "120",
                "x-ratelimit-remaining-requests": "0",
                "x-ratelimit-reset-requests": "2s",
            },
            0.5,  # one request's refill, not the whole quota's
        ),
        (
            {
                "anthropic-ratelimit-requests-limit": "6",
                "anthropic-ratelimit-requests-remaining": "0",
                "anthropic-ratelimit-requests-reset": "2026-11-28T12:00:07Z",
            },
            7.0,  # one request's refill (10 s) would come after the reset
        ),
        ({"x-ratelimit-remaining-requests": "3", "x-ratelimit-reset-requests": "1s"}, None),
        ({"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "later"}, None),
    ],
)
def test_a_spent_quota_is_spent_until_its_reset(
    headers: dict[str, str], seconds: float | None
) -> None:
    assert exhausted_for_s(headers, NOW) == pytest.approx(seconds)


def test_retry_after_counts_on_a_refusal_only() -> None:
    assert pause_s(429, {"retry-after": "2"}) == 2.0
    assert pause_s(529, {"retry-after": "2"}) == 2.0
    assert pause_s(200, {"retry-after": "2"}) is None
    spent = {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "4s"}
    assert pause_s(200, spent) == 4.0
    assert pause_s(429, {"retry-after": "1", **spent}) == 4.0
