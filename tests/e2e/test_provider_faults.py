"""A faulty provider, end to end: bounded SDK retries, then `failed` with its reason, then retried.

One judge per fault, each on the simulated provider with the fault on the first two
attempts at every request (429s: `MAX_REFUSALS` more, which spend no retry) and one retry,
so every call fails after exactly that many attempts; then `retry-failed` sends each request
once more, which goes through. Judges whose fault lasts one attempt recover inside the
retry and never fail.
"""

from collections import Counter
from typing import Any

import pytest

from judge_service.demo.sample import sample_pairs
from judge_service.judging.retries import MAX_REFUSALS
from tests.conftest import StackFactory, create_run, simulator_stats, wait_until_done
from tests.e2e.test_judging import judge, records

pytestmark = pytest.mark.slow
PAIRS = 3
CALLS = PAIRS * 2  # judgments per judge: both orders of every pair

# The simulator's transport fault -> the reason the run reports.
REASONS = {
    "429": "rate_limited",
    "429-bare": "rate_limited",
    "500": "server_error",
    "529": "overloaded",
    "timeout": "timeout",
    "reset": "connection_error",
}


def failing_attempts(fault: str) -> int:
    """The attempts a call makes before it fails: 429s are forgiven up to `MAX_REFUSALS`."""
    return 2 + (MAX_REFUSALS if fault.startswith("429") else 0)


def faulty_judges(url: str) -> dict[str, dict[str, Any]]:
    judges: dict[str, dict[str, Any]] = {}
    for index, fault in enumerate(REASONS):
        provider = "openai" if index % 2 == 0 else "anthropic"
        for attempts, name in ((failing_attempts(fault), "fails"), (1, "recovers")):
            knobs = f"http_fault={fault},http_fault_attempts={attempts}"
            # A configured limit: a judge refused on every attempt would otherwise be probed
            # down to a few calls a minute, which is right for a provider but not this test.
            judges[f"{name}-{fault}"] = judge(
                url, provider, knobs, max_retries=1, timeout_s=1.0, rpm_limit=6000
            )
    persistent = "persistent_faults=1"
    judges["cut-off"] = judge(url, "openai", f"truncate_rate=1,{persistent}", structured=False)
    judges["garbled"] = judge(url, "anthropic", f"malformed_rate=1,{persistent}")
    return judges


def test_every_fault_fails_with_its_reason_after_bounded_retries_and_is_retried(
    stack_factory: StackFactory,
) -> None:
    stack = stack_factory(judges=faulty_judges)
    names = list(stack.settings.all_judges)
    failing = create_run(stack.api, [name for name in names if not name.startswith("recovers")])
    recovering = create_run(stack.api, [name for name in names if name.startswith("recovers")])
    for run in (failing, recovering):
        stack.api.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": sample_pairs(PAIRS)})
    stack.start_worker()
    first = wait_until_done(stack.api, failing["id"], timeout=180)
    recovered = wait_until_done(stack.api, recovering["id"], timeout=180)

    expected: Counter[str] = Counter()
    for reason in REASONS.values():
        expected[reason] += CALLS
    expected.update({"truncated": CALLS, "parse_error": CALLS})
    assert first["counts"]["failed_by_reason"] == dict(expected)
    assert recovered["counts"]["failed_by_reason"] == {}
    assert recovered["counts"]["judgments_done"] == len(REASONS) * CALLS
    kinds: dict[str, set[str | None]] = {}
    for row in records(stack.api, failing["id"]):
        kinds.setdefault(row["judge"], set()).add(row["error_kind"])
    for fault, reason in REASONS.items():
        assert kinds[f"fails-{fault}"] == {reason}
    # Bounded: each failing call's faulty attempts, and one at each recovering call.
    sim = simulator_stats(stack.simulator)
    assert sim["http_faults"] == {
        fault: CALLS * failing_attempts(fault) + CALLS for fault in REASONS
    }
    # Judges with transport faults: every faulty attempt, and 2 per recovering call. The two
    # with broken replies: the call and its follow-up (text) or repeat (structured), failing.
    transport = sum(CALLS * failing_attempts(fault) + CALLS * 2 for fault in REASONS)
    assert sim["requests"] == transport + 2 * CALLS * 2

    retried = stack.api.post(f"/v1/runs/{failing['id']}/retry-failed")
    assert retried.json()["requeued"] == sum(expected.values())
    second = wait_until_done(stack.api, failing["id"], timeout=180)
    # The next attempt at each request goes through; broken replies stay broken.
    assert second["counts"]["failed_by_reason"] == {"truncated": CALLS, "parse_error": CALLS}
    rows = Counter(
        (r["external_id"], r["judge"], r["order"]) for r in records(stack.api, failing["id"])
    )
    assert set(rows.values()) == {1}
    assert len(rows) == PAIRS * 2 * len(failing["judges"])
