"""`/readyz`: 200 when PostgreSQL and Redis answer; a 503 naming the one that does not.

The shared servers are never stopped: the settings point at a port where nothing
answers. "refused" is a closed port; "silent" is a port whose listen queue is full,
so a connect hangs as it does to a host that drops packets: there the connect timeouts
(`db.engine`, `redis_clients`) make readiness answer before the client's timeout below;
libpq alone waits as long as the operating system does, minutes.
"""

import socket
from collections.abc import Iterator

import httpx
import pytest

from judge_service.app import create_app
from judge_service.background import BackgroundServer, free_port
from judge_service.config import Settings

CLIENT_TIMEOUT_S = 30


@pytest.fixture(params=["refused", "silent"])
def dead_port(request: pytest.FixtureRequest) -> Iterator[int]:
    if request.param == "refused":
        yield free_port()
        return
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        port = int(server.getsockname()[1])
        # Connections nobody accepts fill the queue; later SYNs are dropped unanswered.
        fillers = [socket.socket() for _ in range(3)]
        for filler in fillers:
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
        try:
            yield port
        finally:
            for filler in fillers:
                filler.close()


def readiness(settings: Settings) -> httpx.Response:
    with (
        BackgroundServer(create_app(settings)) as server,
        httpx.Client(base_url=server.url, timeout=CLIENT_TIMEOUT_S) as client,
    ):
        return client.get("/readyz")


def test_ready_when_database_and_queue_answer(pg_url: str, redis_url: str) -> None:
    response = readiness(Settings(database_url=pg_url, redis_url=redis_url))
    assert response.status_code == 200
    assert response.json() == {"ready": True, "database": "ok", "queue": "ok"}


@pytest.mark.parametrize("down", ["database", "queue"])
def test_not_ready_names_what_does_not_answer(
    down: str, pg_url: str, redis_url: str, dead_port: int
) -> None:
    urls = {"database": pg_url, "queue": redis_url}
    urls[down] = {
        "database": f"postgresql+psycopg://postgres@127.0.0.1:{dead_port}/judge",
        "queue": f"redis://127.0.0.1:{dead_port}/0",
    }[down]
    response = readiness(Settings(database_url=urls["database"], redis_url=urls["queue"]))
    assert response.status_code == 503
    body = response.json()
    (up,) = set(urls) - {down}
    assert body["ready"] is False and body[up] == "ok", body
    assert body[down].startswith("unreachable: "), body
