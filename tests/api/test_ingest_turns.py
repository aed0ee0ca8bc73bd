"""Pair posts take their turn: an API process writes at most `ingest_concurrency` groups of
posts at once (`api/pair_writer.py`)."""

import threading
import time
import uuid
from collections.abc import Callable

import httpx
from sqlalchemy import create_engine, text

from judge_service.app import create_app
from judge_service.background import BackgroundServer
from judge_service.config import Settings
from judge_service.demo.sample import sample_pairs
from tests.api.row_lock import held_run
from tests.conftest import create_run, empty_queue


def test_posts_past_the_limit_wait_their_turn_and_all_land(
    pg_settings: Settings, make_migrated_database: Callable[[], str], redis_url: str
) -> None:
    settings = pg_settings.model_copy(
        update={
            "database_url": make_migrated_database(),
            "queue_name": f"turns-{uuid.uuid4().hex[:8]}",
            "ingest_concurrency": 2,
        }
    )
    engine = create_engine(settings.database_url)
    pairs = sample_pairs(5)
    answers: list[httpx.Response] = []
    try:
        with (
            BackgroundServer(create_app(settings)) as server,
            httpx.Client(base_url=server.url, timeout=30) as api,
        ):
            run_id = create_run(api, ["sim"])["id"]

            def post(pair: dict[str, object]) -> None:
                answers.append(api.post(f"/v1/runs/{run_id}/pairs", json={"pairs": [pair]}))

            with held_run(engine, run_id) as held:
                posts = [threading.Thread(target=post, args=(pair,)) for pair in pairs]
                for thread in posts:
                    thread.start()
                held.wait_for(2)
                time.sleep(0.5)  # time enough for the other three to pile up, were they let in
                waiting = held.waiting()
            for thread in posts:
                thread.join(30)
        with engine.connect() as db:
            stored = db.execute(text("SELECT count(*) FROM pairs")).scalar_one()
    finally:
        engine.dispose()
        empty_queue(redis_url, settings.queue_name)

    assert waiting == 2
    assert (
        sorted((answer.status_code, answer.json()["accepted"]) for answer in answers)
        == [(202, 1)] * 5
    )
    assert stored == 5
