"""The RQ worker: RQ's forking worker, plus a periodic reconcile and a bounded warm shutdown.

Reconcile runs in the worker's own loop, with RQ's registry maintenance, every
`reconcile_interval_s` (an idle worker wakes up for it). It lives in the worker,
not in Redis: a repeating job would vanish with the very Redis data it is there
to recover. Batch mode's submit-and-poll step (`jobs/batch_mode.py`) runs beside
it, for the same reason. On SIGTERM the worker tells the work horse, whose job stops starting
judge calls, stores the ones in flight and releases the rest, instead of judging
its whole chunk first.
"""

import contextlib
import gc
import logging
import os
import signal
from collections.abc import Sequence
from types import FrameType
from typing import Any

from rq import Queue, Worker
from rq.exceptions import StopRequested

from judge_service.config import Settings
from judge_service.db.engine import session_factory
from judge_service.jobs.batch_mode import batch_step
from judge_service.jobs.dispatch import RQDispatcher
from judge_service.jobs.reconcile import reconcile
from judge_service.judging.providers import load_sdks

log = logging.getLogger(__name__)
LISTENER_WAKE_S = 1.0  # the command listener's longest wait: what unsubscribing can cost


class JudgeWorker(Worker):
    def __init__(self, queues: Sequence[Queue], *, settings: Settings, **kwargs: Any) -> None:
        self.settings = settings  # before RQ's __init__, which reads dequeue_timeout
        super().__init__(queues, maintenance_interval=settings.reconcile_interval_s, **kwargs)
        self._dispatcher: RQDispatcher | None = None
        load_sdks()  # once here, not in every work horse
        # What is loaded by now lives as long as the worker: out of the collector's sight
        # (`gc.freeze`), neither the worker's full collections nor a fresh horse's walk it,
        # so a horse's collections no longer write to (and so copy) every inherited page.
        # Frozen once, here: freezing at each fork and thawing after cost the worker a full
        # collection every few jobs.
        gc.freeze()

    @property
    def dequeue_timeout(self) -> int:
        """Wake from waiting on an empty queue in time for the next reconcile."""
        return min(super().dequeue_timeout, self.settings.reconcile_interval_s)

    def run_maintenance_tasks(self) -> None:
        super().run_maintenance_tasks()  # type: ignore[no-untyped-call]  # RQ: unannotated
        sessions = session_factory(self.settings.database_url)
        try:
            if self._dispatcher is None:
                self._dispatcher = RQDispatcher(self.settings)
            reconcile(sessions, self._dispatcher, self.settings.lease_s)  # logs per run
        except StopRequested:
            # An idle worker's SIGTERM/SIGINT raises this from RQ's handler wherever the worker
            # is: swallowed here, the stop would be lost and the worker would never exit.
            raise
        except Exception as exc:
            # Database or Redis away: the next interval tries again; the worker keeps working.
            log.warning("reconcile failed, next try in %d s: %r", self.maintenance_interval, exc)
        try:
            summary = batch_step(self.settings, sessions)
            if summary:
                log.info("batch mode: %s", summary)
        except StopRequested:
            raise
        except Exception as exc:
            log.warning("batch step failed, next try in %d s: %r", self.maintenance_interval, exc)

    def subscribe(self) -> None:
        """RQ's subscription to its command channel, its listener waking every second.

        At shutdown RQ unsubscribes, then redis-py joins the listener thread; a listener no
        longer subscribed waits out its whole sleep time before it looks again, and RQ's is
        60 s: a stopped worker could take a minute to exit (the pool's parent gave up first).
        """
        self.log.info("Worker %s: subscribing to channel %s", self.name, self.pubsub_channel_name)
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        # RQ leaves the attribute unannotated, so its type is its initial None.
        self.pubsub_thread = self.pubsub.run_in_thread(  # type: ignore[assignment]
            sleep_time=LISTENER_WAKE_S,
            daemon=True,
            exception_handler=self._pubsub_exception_handler,
        )

    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        """Warm shutdown: RQ waits for the horse; the horse's job is told to wind down."""
        horse = self.horse_pid
        super().request_stop(signum, frame)  # type: ignore[no-untyped-call]  # RQ: unannotated
        if horse:
            with contextlib.suppress(ProcessLookupError):
                os.kill(horse, signal.SIGTERM)

    def teardown(self) -> None:
        super().teardown()  # type: ignore[no-untyped-call]  # RQ: unannotated
        if self._dispatcher is not None:
            self._dispatcher.close()
