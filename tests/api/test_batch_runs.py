"""A run's mode over HTTP: validated, stored, copied by rerun; batch runs queue no live job.

No worker reads this session's queue; the batch runs made here are deleted afterwards, so
no later worker of the session sends them.
"""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from redis import Redis
from sqlalchemy import delete, update

from judge_service.app import create_app
from judge_service.background import BackgroundServer
from judge_service.config import Settings
from judge_service.db.engine import session_factory
from judge_service.db.models import Judgment, JudgmentStatus, Run
from judge_service.demo.sample import sample_pairs
from judge_service.jobs.dispatch import judge_queue
from tests.conftest import create_run


@pytest.fixture
def made(pg_url: str) -> Iterator[list[int]]:
    runs: list[int] = []
    yield runs
    with session_factory(pg_url).begin() as session:
        session.execute(delete(Run).where(Run.id.in_(runs)))


def test_mode_other_than_live_or_batch_is_422_naming_it(pg_api: httpx.Client) -> None:
    body = {"name": "x", "baseline": "b", "candidate": "c", "judges": ["sim"], "mode": "turbo"}
    response = pg_api.post("/v1/runs", json=body)
    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["detail"]] == [["body", "mode"]]


def test_live_is_the_default(pg_api: httpx.Client) -> None:
    assert create_run(pg_api, ["sim"])["mode"] == "live"


def test_batch_mode_needs_rq_workers(pg_url: str, judges: dict[str, dict[str, Any]]) -> None:
    settings = Settings(database_url=pg_url, judges=judges)  # no Redis: judged in-process
    with (
        BackgroundServer(create_app(settings)) as server,
        httpx.Client(base_url=server.url) as client,
    ):
        body = {"name": "x", "baseline": "b", "candidate": "c", "judges": ["sim"], "mode": "batch"}
        response = client.post("/v1/runs", json=body)
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "mode"] and "JUDGE_REDIS_URL" in error["msg"]


def test_a_batch_run_queues_no_live_job(
    pg_api: httpx.Client, pg_settings: Settings, pg_url: str, made: list[int]
) -> None:
    run = create_run(pg_api, ["sim", "sim-anthropic"], mode="batch")
    made.append(run["id"])
    assert run["mode"] == "batch"
    queue = judge_queue(Redis.from_url(pg_settings.redis_url or ""), pg_settings.queue_name)
    queued = queue.count

    added = pg_api.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": sample_pairs(3)})
    assert added.status_code == 202 and added.json()["jobs"] == 0
    assert pg_api.get(f"/v1/runs/{run['id']}").json()["counts"]["judgments_expected"] == 12

    with session_factory(pg_url).begin() as session:
        session.execute(
            update(Judgment)
            .where(Judgment.run_id == run["id"])
            .values(status=JudgmentStatus.FAILED, error_kind="batch_error")
        )
    retried = pg_api.post(f"/v1/runs/{run['id']}/retry-failed").json()
    assert (retried["requeued"], retried["jobs"]) == (12, 0)

    rerun = pg_api.post(f"/v1/runs/{run['id']}/rerun")
    assert rerun.status_code == 201
    made.append(rerun.json()["id"])
    assert rerun.json()["mode"] == "batch"
    assert queue.count == queued  # nothing reached the live queue

    assert pg_api.get(f"/v1/runs/{run['id']}/batches").json() == []


def test_batches_of_an_unknown_run_are_404(pg_api: httpx.Client) -> None:
    assert pg_api.get("/v1/runs/987654321/batches").status_code == 404
