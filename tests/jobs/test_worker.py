"""The RQ worker's own behaviour, apart from the jobs it runs."""

import gc

from redis import Redis

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
