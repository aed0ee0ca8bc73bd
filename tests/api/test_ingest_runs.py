"""A pair post looks its run up once per API process; a run deleted in the database since
is still a 404, never a 500."""

from typing import Any

import httpx
from sqlalchemy import Engine, delete, event

from judge_service.config import Settings
from judge_service.db.engine import session_factory
from judge_service.db.models import Run
from judge_service.demo.sample import sample_pairs
from tests.conftest import create_run


def test_later_posts_to_a_run_do_not_look_it_up_again(pg_api: httpx.Client) -> None:
    run = create_run(pg_api, ["sim"])
    statements: list[tuple[str, Any]] = []

    def seen(*args: Any) -> None:
        statements.append((args[2], args[3]))  # (connection, cursor, statement, parameters, ...)

    # Every engine of the process: the app's may not be the one `engine_for` has now.
    event.listen(Engine, "before_cursor_execute", seen)
    try:
        for pair in sample_pairs(3):
            posted = pg_api.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": [pair]})
            assert posted.json()["accepted"] == 1, posted.text
    finally:
        event.remove(Engine, "before_cursor_execute", seen)
    ours = [
        s for s, params in statements if isinstance(params, dict) and run["id"] in params.values()
    ]
    lookups = [s for s in ours if "FROM runs" in s and s.lstrip().startswith("SELECT")]
    assert len(lookups) == 1, lookups
    assert sum("INSERT INTO pairs" in s for s in ours) == 3


def test_a_run_deleted_in_the_database_is_not_found_at_the_next_post(
    pg_api: httpx.Client, pg_settings: Settings
) -> None:
    run = create_run(pg_api, ["sim"])
    first, second, third = ({"pairs": [pair]} for pair in sample_pairs(3))
    assert pg_api.post(f"/v1/runs/{run['id']}/pairs", json=first).status_code == 202
    with session_factory(pg_settings.database_url).begin() as session:
        session.execute(delete(Run).where(Run.id == run["id"]))

    for body in (second, third):
        refused = pg_api.post(f"/v1/runs/{run['id']}/pairs", json=body)
        assert refused.status_code == 404, refused.text
        assert refused.json()["detail"] == f"run {run['id']} not found"
