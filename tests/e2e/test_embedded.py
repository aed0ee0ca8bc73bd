"""The embedded default: SQLite and the in-process executor, no Redis."""

from pathlib import Path
from typing import Any

import httpx

from judge_service.app import create_app
from judge_service.background import BackgroundServer
from judge_service.config import Settings
from judge_service.db import migrate
from judge_service.demo.sample import sample_pairs
from tests.conftest import create_run, wait_until_done


def test_sqlite_in_process_end_to_end(tmp_path: Path, judges: dict[str, dict[str, Any]]) -> None:
    url = f"sqlite:///{tmp_path / 'embedded.db'}"
    migrate.upgrade(url)
    settings = Settings(database_url=url, judges=judges, chunk_size=5)
    assert settings.redis_url is None
    with (
        BackgroundServer(create_app(settings)) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        run = create_run(client, ["sim", "sim-anthropic"])
        body = {"pairs": sample_pairs(20)}
        assert client.post(f"/v1/runs/{run['id']}/pairs", json=body).json()["accepted"] == 20
        done = wait_until_done(client, run["id"])
        assert done["counts"]["judgments_done"] == 20 * 2 * 2
        stats = client.get(f"/v1/runs/{run['id']}/stats").json()
        assert stats["n"] == 20
        assert client.get("/readyz").json() == {"ready": True, "database": "ok", "queue": "ok"}
        lines = client.get(f"/v1/runs/{run['id']}/judgments").text.splitlines()
        assert len(lines) == 80


def test_pending_work_is_picked_up_after_a_restart(
    tmp_path: Path, judges: dict[str, dict[str, Any]]
) -> None:
    """In-process jobs die with the process; the next start reconciles them."""
    url = f"sqlite:///{tmp_path / 'restart.db'}"
    migrate.upgrade(url)
    configured = Settings(database_url=url, judges=judges)
    # Pairs accepted by a server whose executor is gone (as if it died) stay pending.
    app = create_app(configured)
    with BackgroundServer(app) as server, httpx.Client(base_url=server.url) as client:
        app.state.dispatcher.close()
        run = create_run(client, ["sim"])
        client.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": sample_pairs(6)})
        assert client.get(f"/v1/runs/{run['id']}").json()["counts"]["judgments_done"] == 0
    with (
        BackgroundServer(create_app(configured)) as server,
        httpx.Client(base_url=server.url) as client,
    ):
        done = wait_until_done(client, run["id"], timeout=60)
        assert done["counts"]["judgments_done"] == 12
