"""`kill -9` a worker mid-chunk: after a restart and a reconcile, every judgment is done once."""

import pytest

from tests.conftest import settings_env
from tests.reliability.conftest import CONCURRENCY, CrashStack, one_row_per_call
from tests.test_cli import cli

pytestmark = pytest.mark.slow
PAIRS = 24
EXPECTED = PAIRS * 2  # one judge, both orders


def test_killed_worker_claims_come_back_and_nothing_is_judged_twice(
    crash_stack: CrashStack,
) -> None:
    run_id = crash_stack.submit(PAIRS)
    worker = crash_stack.start_worker()
    crash_stack.wait_for(
        "mid-chunk",
        lambda: (
            crash_stack.statuses(run_id)["done"] >= 4
            and crash_stack.statuses(run_id)["running"] >= 4
        ),
    )
    worker.kill9()
    at_kill = crash_stack.rows(run_id)
    done_before = {(r.pair_id, r.order): r for r in at_kill if r.status == "done"}
    held = sum(r.status == "running" for r in at_kill)
    calls_at_kill = crash_stack.judge_calls()
    print(f"killed with {len(done_before)} done, {held} claimed, {calls_at_kill} calls made")

    crash_stack.start_worker()
    recovered_s = crash_stack.wait_done(run_id, EXPECTED, timeout=90)

    rows = crash_stack.rows(run_id)
    assert one_row_per_call(rows) == {1: EXPECTED}
    assert {r.status for r in rows} == {"done"}
    # What was done before the kill was never judged again nor overwritten.
    for row in rows:
        if (row.pair_id, row.order) in done_before:
            assert row == done_before[(row.pair_id, row.order)]
    # Only claims of the killed job were taken again, each once.
    retaken = [r for r in rows if r.attempts > 1]
    assert len(retaken) == held and {r.attempts for r in retaken} == {2}
    # Calls the killed horse had in flight are made again, nothing else: at most one per slot.
    repeated = crash_stack.judge_calls() - EXPECTED
    print(f"recovered in {recovered_s:.1f} s; {repeated} calls repeated")
    assert 0 <= repeated <= CONCURRENCY

    calls = crash_stack.judge_calls()
    result = cli("reconcile", env=settings_env(crash_stack.settings))
    assert result.returncode == 0, result.stderr
    assert "queued 0 pairs" in result.stdout
    assert crash_stack.judge_calls() == calls
