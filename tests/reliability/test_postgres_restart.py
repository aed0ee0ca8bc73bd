"""PostgreSQL stops and starts mid-run: workers wait with backoff and no result is lost."""

import pytest

from tests.reliability.conftest import CrashStack, one_row_per_call

pytestmark = pytest.mark.slow
PAIRS = 24
EXPECTED = PAIRS * 2


def test_workers_wait_out_a_database_restart(crash_stack: CrashStack) -> None:
    run_id = crash_stack.submit(PAIRS)
    worker = crash_stack.start_worker()
    crash_stack.wait_for(
        "mid-chunk",
        lambda: (
            crash_stack.statuses(run_id)["done"] >= 4
            and crash_stack.statuses(run_id)["running"] >= 2
        ),
    )
    crash_stack.pg.stop()
    # Down until the worker has retried a few times with growing waits (about 3 s in all).
    down_s = crash_stack.wait_for(
        "backing off", lambda: worker.log().count("database unavailable") >= 5, timeout=30
    )
    crash_stack.pg.start()

    recovered_s = crash_stack.wait_done(run_id, EXPECTED, timeout=90)
    print(f"database down {down_s:.1f} s; all done {recovered_s:.1f} s after it came back")
    assert worker.alive()
    rows = crash_stack.rows(run_id)
    assert one_row_per_call(rows) == {1: EXPECTED}
    # Every call's result was written once the database was back: none lost, none repeated.
    assert crash_stack.judge_calls() == EXPECTED
    assert {r.attempts for r in rows} == {1}
