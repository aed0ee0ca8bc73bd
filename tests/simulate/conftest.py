"""Simulated-provider servers on real sockets: one shared per module, or fresh ones per test."""

from collections.abc import Callable, Iterator

import pytest

from judge_service.background import BackgroundServer
from judge_service.simulate.config import SimulatorConfig
from judge_service.simulate.server import create_app
from tests.simulate.helpers import fast


@pytest.fixture
def make_server() -> Iterator[Callable[[SimulatorConfig], BackgroundServer]]:
    """Fresh servers (own counters and attempt memory), stopped after the test."""
    servers: list[BackgroundServer] = []

    def make(config: SimulatorConfig) -> BackgroundServer:
        server = BackgroundServer(create_app(config))
        server.start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def server() -> Iterator[BackgroundServer]:
    with BackgroundServer(create_app(fast(seed=3))) as running:
        yield running
