"""The PostgreSQL engine's pool: as many connections kept as the API runs requests at once."""

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import text

from judge_service.db.engine import POOL_SIZE, make_engine


def test_a_full_thread_pool_of_requests_reuses_its_connections(pg_url: str) -> None:
    engine = make_engine(pg_url)
    together = threading.Barrier(POOL_SIZE, timeout=10)

    def backend_pid(_: int) -> int:
        with engine.connect() as connection:
            pid = int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())
            together.wait()  # every connection is checked out at once
            return pid

    try:
        with ThreadPoolExecutor(POOL_SIZE) as threads:
            first = set(threads.map(backend_pid, range(POOL_SIZE)))
            together.reset()
            second = set(threads.map(backend_pid, range(POOL_SIZE)))
        assert len(first) == POOL_SIZE
        # None was closed on its return and opened anew: the same server processes answer.
        assert second == first
        assert engine.pool.checkedin() == POOL_SIZE  # type: ignore[attr-defined]
    finally:
        engine.dispose()
