"""Redis restarts empty mid-run: its jobs are gone, the database is not; the run completes."""

import pytest
import redis

from tests.reliability.conftest import CrashStack, one_row_per_call

pytestmark = pytest.mark.slow
PAIRS = 24
EXPECTED = PAIRS * 2


def test_run_completes_after_redis_loses_its_jobs(crash_stack: CrashStack) -> None:
    run_id = crash_stack.submit(PAIRS)
    crash_stack.start_worker()
    crash_stack.wait_for("under way", lambda: crash_stack.statuses(run_id)["done"] >= 4)

    crash_stack.redis.stop()
    crash_stack.redis.start()
    client = redis.Redis.from_url(crash_stack.redis.url)
    assert client.keys("rq:*") == []  # the queue, its jobs and registries are gone
    client.close()
    lost = crash_stack.statuses(run_id)["pending"]
    assert lost > 0

    recovered_s = crash_stack.wait_done(run_id, EXPECTED, timeout=90)
    print(f"{lost} judgments lost with Redis, all done {recovered_s:.1f} s after the restart")
    rows = crash_stack.rows(run_id)
    assert one_row_per_call(rows) == {1: EXPECTED}
    # The jobs were lost before anyone claimed their rows: no call is made twice.
    assert crash_stack.judge_calls() == EXPECTED
    assert {r.attempts for r in rows} == {1}
