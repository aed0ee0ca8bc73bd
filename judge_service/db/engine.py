"""Engines and sessions, one engine per process.

RQ forks a child per job; a connection inherited across fork corrupts the
protocol state, so the cache is keyed on the process id.

PostgreSQL connections give up after `CONNECT_TIMEOUT_S` (unless the URL sets its own
`connect_timeout`): without it libpq waits as long as the operating system lets a
connect hang, minutes for a host that drops packets, so `/readyz` would hang instead
of answering 503, and a worker's backoff (`jobs.claims.patiently`) would not get to retry.
"""

import os
from typing import Any, cast

from sqlalchemy import CursorResult, Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.dml import UpdateBase

_engines: dict[tuple[int, str], Engine] = {}
CONNECT_TIMEOUT_S = 5
# FastAPI runs sync routes on anyio's default 40 threads, each holding a connection while
# it runs, so the pool keeps that many once a load has needed them (a worker uses a few).
# A smaller pool closed and reopened connections under load, a new server process per
# request past its size: with 10 kept, bench/ingest.py's 20 clients cost PostgreSQL
# ~2.9 ms of CPU per single-pair post, ~1.1 ms with every connection kept.
POOL_SIZE = 40


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets the in-process workers write while the API reads; the busy
    # timeout makes concurrent writers wait instead of failing.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    connect_args = (
        {} if "connect_timeout" in make_url(url).query else {"connect_timeout": CONNECT_TIMEOUT_S}
    )
    return create_engine(
        url, pool_pre_ping=True, pool_size=POOL_SIZE, max_overflow=0, connect_args=connect_args
    )


def engine_for(url: str) -> Engine:
    key = (os.getpid(), url)
    if key not in _engines:
        _engines[key] = make_engine(url)
    return _engines[key]


def dispose_engine(url: str) -> None:
    """Close this process's pooled connections to `url`: an app that stops gives them back,
    so a process that serves many databases in turn (a test session) never hoards them."""
    engine = _engines.pop((os.getpid(), url), None)
    if engine is not None:
        engine.dispose()


def session_factory(url: str) -> sessionmaker[Session]:
    return sessionmaker(engine_for(url), expire_on_commit=False)


def rows_matched(session: Session, statement: UpdateBase) -> int:
    """Run an UPDATE or DELETE in the session; how many rows it matched.

    `Session.execute` is typed to return a plain `Result` whatever the statement; a DML
    statement's is a `CursorResult`, which carries the row count.
    """
    result = cast(CursorResult[*tuple[Any, ...]], session.execute(statement))
    return result.rowcount
