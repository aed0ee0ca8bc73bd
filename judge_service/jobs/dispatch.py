"""Getting chunks of pair ids to a worker: RQ when Redis is configured, else a thread pool.

Either way the job is `judge_chunk`; the database, not the dispatcher, knows
what is left to judge, so dispatching a chunk twice is harmless. RQ jobs name their
function by dotted path and the thread pool imports it on first use, so the API
process never loads the job's modules (and the provider SDKs they import).
"""

import logging
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from hashlib import blake2b
from typing import Protocol

from redis import Redis
from rq import Queue, Retry, Worker
from rq.registry import StartedJobRegistry
from rq.serializers import JSONSerializer

from judge_service.config import Settings
from judge_service.db.models import Run, RunMode
from judge_service.db.queries import IngestRun
from judge_service.jobs.shared_enqueue import SharedEnqueue
from judge_service.redis_clients import probe_redis, queue_redis

log = logging.getLogger(__name__)

# RQ re-queues a job lost with its worker only if it has retries left.
JOB_RETRIES = 3
# The RQ entry point, by name: the worker imports it, the enqueuing process need not.
JOB_FUNCTION = "judge_service.jobs.judge_pairs.judge_pairs"
RESULT_TTL_S = 3600


def chunked(ids: Sequence[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])


@dataclass(frozen=True)
class QueueDepth:
    """Jobs (chunks of pairs) in the queue, and what works on it."""

    queued: int  # waiting for a worker
    started: int  # on a worker now
    failed: int | None  # RQ's failed registry; None in-process, where nothing keeps them
    workers: int  # RQ workers registered on the queue, or the in-process threads


class Dispatcher(Protocol):
    def dispatch(self, pair_ids: Sequence[int]) -> int:
        """Queue the pairs' judgments in chunks; returns the number of jobs."""
        ...

    def ready(self) -> bool: ...

    def depth(self) -> QueueDepth: ...

    def close(self) -> None: ...


class RQDispatcher:
    def __init__(self, settings: Settings) -> None:
        assert settings.redis_url is not None
        self._settings = settings
        self._redis = queue_redis(settings.redis_url)
        # Readiness and depth ask "now?": one bounded attempt, not the enqueue path's retries.
        self._probe = judge_queue(probe_redis(settings.redis_url), settings.queue_name)
        self.queue = judge_queue(self._redis, settings.queue_name)
        self._shared = SharedEnqueue(self._enqueue)

    def dispatch(self, pair_ids: Sequence[int]) -> int:
        """Jobs for these pairs and for any that other requests committed meanwhile."""
        return self._shared(pair_ids)

    def _enqueue(self, pair_ids: Sequence[int]) -> int:
        jobs = [
            Queue.prepare_data(
                JOB_FUNCTION,
                args=(chunk,),
                timeout=self._settings.job_timeout_s,
                result_ttl=RESULT_TTL_S,
                retry=Retry(max=JOB_RETRIES),
                description=f"judge {len(chunk)} pairs",
            )
            for chunk in chunked(pair_ids, self._settings.chunk_size)
        ]
        if jobs:
            self.queue.enqueue_many(jobs)
        return len(jobs)

    def ready(self) -> bool:
        return bool(self._probe.connection.ping())

    def depth(self) -> QueueDepth:
        """Four reads; no registry cleanup (RQ's workers do that)."""
        queue = self._probe
        return QueueDepth(
            queued=queue.count,
            started=StartedJobRegistry(queue=queue).get_job_count(cleanup=False),
            failed=queue.failed_job_registry.get_job_count(cleanup=False),
            workers=Worker.count(queue=queue),
        )

    def close(self) -> None:
        self._redis.close()
        self._probe.connection.close()


class InProcessDispatcher:
    """The embedded default: no Redis, jobs run on threads of the API process."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._pool = ThreadPoolExecutor(settings.inprocess_workers, thread_name_prefix="judge")
        self._lock = threading.Lock()
        self._queued = self._started = 0

    def dispatch(self, pair_ids: Sequence[int]) -> int:
        count = 0
        for chunk in chunked(pair_ids, self._settings.chunk_size):
            with self._lock:
                self._queued += 1
            self._pool.submit(self._run, chunk)
            count += 1
        return count

    def _run(self, chunk: list[int]) -> None:
        with self._lock:
            self._queued, self._started = self._queued - 1, self._started + 1
        # Imported here, on a pool thread: an API process that never runs a job never loads it.
        from judge_service.jobs.judge_pairs import judge_chunk

        try:
            judge_chunk(self._settings, chunk)
        except Exception:
            # The judgments stay pending or leased; the reconciler picks them up.
            log.exception("in-process job failed", extra={"pair_ids": chunk})
        finally:
            with self._lock:
                self._started -= 1

    def ready(self) -> bool:
        return True

    def depth(self) -> QueueDepth:
        with self._lock:
            return QueueDepth(self._queued, self._started, None, self._settings.inprocess_workers)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def judging_order(run_id: int, pair_ids: Sequence[int]) -> list[int]:
    """The pairs in their run's random order: by a hash of the pair id keyed by the run id.

    A run with a stop rule is judged in this order, so the outcomes its confidence sequence
    follows arrive in an order unrelated to the pairs' content (exchangeable), whatever order
    they were posted in; each pair keeps its place however the run's pairs are split into posts.
    """
    key = run_id.to_bytes(8, "little", signed=True)
    return sorted(
        pair_ids,
        key=lambda pair_id: blake2b(
            pair_id.to_bytes(8, "little", signed=True), digest_size=8, key=key
        ).digest(),
    )


def dispatch_committed(dispatcher: Dispatcher, pair_ids: list[int], run: Run | IngestRun) -> int:
    """Queue pairs whose rows are committed; returns the number of jobs (0 if the queue failed).

    A batch-mode run queues nothing: the workers' batch step collects its pending judgments.
    A run with a stop rule queues its pairs in its random order (`judging_order`).
    """
    if run.mode == RunMode.BATCH:
        return 0
    stops = run.stops if isinstance(run, IngestRun) else run.stop_when is not None
    if stops:
        pair_ids = judging_order(run.id, pair_ids)
    try:
        return dispatcher.dispatch(pair_ids)
    except Exception:
        # The pairs and their pending judgments are committed: `judge-service
        # reconcile` queues them once the queue is back. Nothing is lost.
        # The pair ids are left out: up to 10,000 of them would make one line of ~60 KB.
        log.exception(
            "could not queue %d pairs",
            len(pair_ids),
            extra={"run_id": run.id, "pairs": len(pair_ids)},
        )
        return 0


def judge_queue(redis: Redis, name: str) -> Queue:
    return Queue(name, connection=redis, serializer=JSONSerializer)


def make_dispatcher(settings: Settings) -> Dispatcher:
    if settings.redis_url:
        return RQDispatcher(settings)
    return InProcessDispatcher(settings)
