"""The RQ worker's own behaviour, apart from the jobs it runs."""

import gc

import pytest
from redis import Redis
from rq import Worker

from judge_service.config import Settings
from judge_service.jobs.dispatch import judge_queue
from judge_service.jobs.worker import JudgeWorker


def test_a_work_horse_is_forked_with_every_object_frozen_and_the_worker_unfreezes(
    pg_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A horse whose collector walks the inherited heap copies every page of it."""
    frozen_at_fork: list[int] = []
    monkeypatch.setattr(
        Worker, "fork_work_horse", lambda *_args: frozen_at_fork.append(gc.get_freeze_count())
    )
    redis = Redis.from_url(pg_settings.redis_url)
    queue = judge_queue(redis, pg_settings.queue_name)
    worker = JudgeWorker([queue], connection=redis, settings=pg_settings)
    gc.unfreeze()
    try:
        worker.fork_work_horse(None, queue)  # type: ignore[arg-type]
        assert frozen_at_fork and frozen_at_fork[0] > 0
        assert gc.get_freeze_count() == 0  # the worker's own garbage is still collected
    finally:
        gc.unfreeze()
        redis.close()
