"""The RQ worker's own behaviour, apart from the jobs it runs."""

import gc
import threading
import time

import pytest
from redis import Redis
from rq.exceptions import StopRequested

from judge_service.config import Settings
from judge_service.jobs.dispatch import judge_queue
from judge_service.jobs.worker import JudgeWorker


def test_the_worker_freezes_what_it_loaded_before_any_horse_is_forked(
    pg_settings: Settings,
) -> None:
    """A horse whose collector walks the inherited heap copies every page of it."""
    redis = Redis.from_url(pg_settings.redis_url)
    gc.unfreeze()
    try:
        assert gc.get_freeze_count() == 0
        JudgeWorker(
            [judge_queue(redis, pg_settings.queue_name)], connection=redis, settings=pg_settings
        )
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        redis.close()


@pytest.mark.parametrize("step", ["reconcile", "batch_step"])
def test_a_stop_asked_during_maintenance_reaches_rqs_loop(
    pg_settings: Settings, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    """RQ's signal handler raises StopRequested in an idle worker, wherever it is: a
    maintenance step that caught it as a failure lost the stop, and the worker never exited."""
    redis = Redis.from_url(pg_settings.redis_url)

    def stop_here(*args: object) -> None:
        raise StopRequested

    monkeypatch.setattr(f"judge_service.jobs.worker.{step}", stop_here)
    worker = JudgeWorker(
        [judge_queue(redis, pg_settings.queue_name)], connection=redis, settings=pg_settings
    )
    try:
        with pytest.raises(StopRequested):
            worker.run_maintenance_tasks()
    finally:
        gc.unfreeze()
        redis.close()


def test_unsubscribing_at_shutdown_takes_seconds_not_a_minute(pg_settings: Settings) -> None:
    """A listener that saw its unsubscription before RQ's stop() cleared its flag waits a
    whole sleep for a subscription before it looks again, and redis-py's join waits with it:
    60 s with RQ's sleep, longer than the worker pool's patience."""
    redis = Redis.from_url(pg_settings.redis_url)
    worker = JudgeWorker(
        [judge_queue(redis, pg_settings.queue_name)], connection=redis, settings=pg_settings
    )
    try:
        worker.subscribe()
        time.sleep(0.3)
        worker.pubsub.unsubscribe()
        time.sleep(0.5)  # the reply came: the listener loops round, no longer subscribed
        stopping = threading.Thread(target=worker.unsubscribe, daemon=True)
        started = time.monotonic()
        stopping.start()
        stopping.join(8)
        assert not stopping.is_alive(), "unsubscribing still waits for the listener after 8 s"
        assert time.monotonic() - started < 3
    finally:
        gc.unfreeze()
        redis.close()
