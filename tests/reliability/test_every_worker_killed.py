"""`kill -9` every worker mid-run at the default settings: the run completes within a minute.

Nothing here shortens a lease or an interval: the killed jobs' claims lapse because nothing
renews them any more (`jobs/heartbeat.py`), and a new worker's reconcile queues them again.
"""

import time

import pytest

from tests.reliability.conftest import CrashStack, one_row_per_call

pytestmark = pytest.mark.slow
PAIRS = 80
EXPECTED = PAIRS * 2  # one judge, both orders
WORKERS = 2
RECLAIMED_WITHIN_S = 30.0  # the killed jobs' claims are queued and claimed again
DONE_WITHIN_S = 60.0  # the whole run, from the kill


def test_every_worker_killed_mid_run_recovers_within_a_minute_at_the_defaults(
    default_stack: CrashStack,
) -> None:
    stack = default_stack
    run_id = stack.submit(PAIRS)
    workers = [stack.start_worker() for _ in range(WORKERS)]
    stack.wait_for(
        "mid-run",
        lambda: stack.statuses(run_id)["done"] >= 16 and stack.statuses(run_id)["running"] >= 16,
    )
    for worker in workers:
        worker.kill9()
    killed = time.monotonic()
    received, answered = stack.calls.received, stack.calls.answered
    at_kill = stack.rows(run_id)
    replacements = [stack.start_worker() for _ in range(WORKERS)]
    done_before = {(r.pair_id, r.order): r for r in at_kill if r.status == "done"}
    held = sum(r.status == "running" for r in at_kill)
    # What the dead jobs had paid for and not stored: replies still on their way, and replies
    # come back and waiting for their job's next write (`judge_pairs.WRITE_WINDOW_S`).
    in_flight = received - answered
    unwritten = answered - len(done_before)
    print(
        f"killed with {len(done_before)} done, {held} claimed; {received} calls sent: "
        f"{in_flight} in flight at the simulator, {unwritten} answered and not yet stored"
    )

    stack.wait_for(
        "claims taken again",
        lambda: any(row.attempts > 1 for row in stack.rows(run_id)),
        timeout=RECLAIMED_WITHIN_S,
    )
    reclaimed_s = time.monotonic() - killed
    stack.wait_done(run_id, EXPECTED, timeout=DONE_WITHIN_S - reclaimed_s)
    done_s = time.monotonic() - killed
    assert all(worker.alive() for worker in replacements)

    rows = stack.rows(run_id)
    assert one_row_per_call(rows) == {1: EXPECTED}
    assert {r.status for r in rows} == {"done"}
    # What was stored before the kill was never judged again nor overwritten.
    for row in rows:
        if (row.pair_id, row.order) in done_before:
            assert row == done_before[(row.pair_id, row.order)]
    # Only the dead jobs' claims were taken again, each once.
    retaken = [r for r in rows if r.attempts > 1]
    assert len(retaken) == held and {r.attempts for r in retaken} == {2}
    # Paid twice: at most the calls the dead jobs had sent and not stored; every later call once.
    stack.wait_for("every reply made", lambda: stack.calls.answered == stack.calls.received)
    repeated = stack.calls.answered - EXPECTED
    print(
        f"claims taken again {reclaimed_s:.1f} s after the kill, run done {done_s:.1f} s after; "
        f"{stack.calls.answered} calls answered for {EXPECTED} judgments: {repeated} paid twice"
    )
    assert 0 <= repeated <= in_flight + unwritten
