"""Runs' rows held locked, so pair posts to them wait in PostgreSQL where a test can see them."""

import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, text

WAITING_ON_A_LOCK = text(
    "SELECT count(*) FROM pg_stat_activity "
    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
)


class HeldRun:
    def __init__(self, watcher: Connection) -> None:
        self._watcher = watcher

    def waiting(self) -> int:
        """Sessions waiting on a lock now."""
        return int(self._watcher.execute(WAITING_ON_A_LOCK).scalar_one())

    def wait_for(self, sessions: int, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while self.waiting() < sessions:
            assert time.monotonic() < deadline, f"fewer than {sessions} writes reached the lock"
            time.sleep(0.01)


@contextmanager
def held_run(engine: Engine, *run_ids: int) -> Iterator[HeldRun]:
    """A pair's insert checks its run's row (foreign key): while it is held, the insert waits.
    Several runs are let go at once, when the block ends."""
    with (
        engine.connect() as locker,
        # Each read its own transaction: pg_stat_activity holds still within one.
        engine.connect().execution_options(isolation_level="AUTOCOMMIT") as watcher,
    ):
        locker.execute(
            text("SELECT 1 FROM runs WHERE id = ANY(:ids) FOR UPDATE"), {"ids": list(run_ids)}
        )
        try:
            yield HeldRun(watcher)
        finally:
            locker.rollback()
