"""A job's heartbeat: its claims' leases are renewed every few seconds while it runs.

The lease is short (`claim_lease_s`) so a killed worker's claims come back within seconds
of the kill, not a job timeout later; a live job keeps its own however slow a call is,
because a thread renews them every `heartbeat_s` with one conditional UPDATE
(`claims.renew`). A thread, not a task on the job's event loop: it beats through the job's
synchronous steps too (the cache lookup, a refill's claim, the release), and a loop kept
busy cannot make it miss a beat. The lease lives in the row the claim and every write are
conditioned on, so PostgreSQL alone decides who holds a judgment: a Redis key per worker
would add a second source of truth, and a Redis flushed or restarted would hand live claims
to other workers. It stops renewing once the job has run for `job_timeout_s`, so a job
stuck past its timeout (where nothing kills it: the in-process executor) loses its claims
a lease later, as before.
"""

import logging
import threading
import time
from collections.abc import Iterable
from types import TracebackType

from sqlalchemy.orm import Session, sessionmaker

from judge_service.config import Settings
from judge_service.jobs.claims import WorkItem, renew

log = logging.getLogger(__name__)


class Heartbeat:
    """`with Heartbeat(settings, sessions, token) as beat: beat.hold(items)`."""

    def __init__(self, settings: Settings, sessions: sessionmaker[Session], token: str) -> None:
        self._sessions = sessions
        self._token = token
        self._lease_s = settings.claim_lease_s
        self._every_s = settings.heartbeat_s
        self._until = time.monotonic() + settings.job_timeout_s
        self._held: set[int] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="heartbeat", daemon=True)

    def hold(self, items: Iterable[WorkItem]) -> None:
        """Renew these claims too, from the next beat on."""
        with self._lock:
            self._held.update(item.judgment_id for item in items)

    def let_go(self, items: Iterable[WorkItem]) -> None:
        """Stored: nothing left to renew for these."""
        with self._lock:
            self._held.difference_update(item.judgment_id for item in items)

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        while not self._stop.wait(self._every_s) and time.monotonic() < self._until:
            with self._lock:
                held = sorted(self._held)
            if not held:
                continue
            try:
                renew(self._sessions, self._token, held, self._lease_s)
            except Exception as exc:
                # The database is away: the next beat tries again, within the lease if it is back.
                log.warning("claims not renewed, next try in %.0f s: %r", self._every_s, exc)
