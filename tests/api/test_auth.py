"""Project API keys: required when configured, another project's data is a 404, per-key limits.

Every request goes over a real socket to the app on PostgreSQL; keys are made the way the
operator makes them (`judge-service keys create`).
"""

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from judge_service.api.app import create_app
from judge_service.api.auth import RateLimiter
from judge_service.background import BackgroundServer, free_port
from judge_service.config import Settings
from judge_service.db.engine import session_factory
from judge_service.demo.sample import sample_pairs
from tests.api.plans import apply_plan, random_plan
from tests.conftest import create_run
from tests.test_cli import cli

S = "sim"


def _settings(pg_settings: Settings, **extra: Any) -> Settings:
    return Settings(
        database_url=pg_settings.database_url,
        redis_url=pg_settings.redis_url,
        queue_name=pg_settings.queue_name,
        judges=pg_settings.judges,
        auth="required",
        **extra,
    )


@pytest.fixture(scope="module")
def locked(pg_settings: Settings) -> Iterator[str]:
    with BackgroundServer(create_app(_settings(pg_settings))) as server:
        yield server.url


def new_key(database_url: str, project: str) -> str:
    result = cli("keys", "create", "--project", project, env={"JUDGE_DATABASE_URL": database_url})
    assert result.returncode == 0, result.stderr
    key = result.stdout.strip().splitlines()[-1]
    assert key.startswith("js_") and len(key) > 40
    return key


def client(url: str, key: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(base_url=url, headers=headers, timeout=30, follow_redirects=False)


def test_no_key_or_a_wrong_one_is_401(locked: str, pg_url: str) -> None:
    key = new_key(pg_url, f"team-{uuid.uuid4().hex[:6]}")
    for headers in ({}, {"Authorization": "Bearer js_not-a-key"}, {"Authorization": key}):
        response = httpx.get(f"{locked}/v1/runs", headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["www-authenticate"] == "Bearer"
    assert httpx.get(f"{locked}/healthz").status_code == 200  # probes need no key
    with client(locked, key) as api:
        assert api.get("/v1/runs").json() == []


def test_another_projects_data_is_not_found(locked: str, pg_url: str) -> None:
    ours = new_key(pg_url, f"ours-{uuid.uuid4().hex[:6]}")
    theirs = new_key(pg_url, f"theirs-{uuid.uuid4().hex[:6]}")
    with client(locked, ours) as api, client(locked, theirs) as other:
        run = create_run(api, [S])
        pairs = sample_pairs(6)
        assert api.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": pairs}).status_code == 202
        apply_plan(pg_url, run["id"], random_plan(6, seed=1, judges=(S,)))
        pair_id = api.get(f"/v1/runs/{run['id']}/pairs").json()["items"][0]["pair_id"]
        label = {"label": "tie"}  # recorded under the key: `key:<prefix>`
        assert api.post(f"/v1/pairs/{pair_id}/human-labels", json=label).status_code == 201

        rid = run["id"]
        for method, path, body in [
            ("GET", f"/v1/runs/{rid}", None),
            ("GET", f"/v1/runs/{rid}/stats", None),
            ("GET", f"/v1/runs/{rid}/pairs", None),
            ("GET", f"/v1/runs/{rid}/judgments?format=csv", None),
            ("POST", f"/v1/runs/{rid}/pairs", {"pairs": sample_pairs(1)}),
            ("POST", f"/v1/runs/{rid}/rerun", None),
            ("POST", f"/v1/runs/{rid}/retry-failed", None),
            ("GET", f"/v1/pairs/{pair_id}/human-labels", None),
            ("POST", f"/v1/pairs/{pair_id}/human-labels", label),
        ]:
            mine = api.request(method, path, json=body)
            assert mine.status_code < 400, (method, path, mine.text)
            refused = other.request(method, path, json=body)
            assert refused.status_code == 404, (method, path, refused.text)
            assert "not found" in refused.json()["detail"]
        # A run id that exists nowhere gets the very same answer.
        assert other.get("/v1/runs/999999999").json()["detail"] == "run 999999999 not found"
        assert rid not in [r["id"] for r in other.get("/v1/runs").json()]
        assert rid in [r["id"] for r in api.get("/v1/runs").json()]
        board = other.get("/v1/leaderboard", params={"runs": str(rid)})
        assert board.status_code == 422 and f"no such run: {rid}" in board.text
        # The other project's labels were not touched by its refused attempt.
        labels = api.get(f"/v1/pairs/{pair_id}/human-labels").json()
        assert [(x["annotator"], x["label"]) for x in labels] == [(f"key:{ours[:12]}", "tie")]


def test_dashboard_signs_in_with_a_cookie_and_keeps_projects_apart(
    locked: str, pg_url: str
) -> None:
    key = new_key(pg_url, f"dash-{uuid.uuid4().hex[:6]}")
    stranger = new_key(pg_url, f"stranger-{uuid.uuid4().hex[:6]}")
    with client(locked, key) as api:
        run = create_run(api, [S], candidate="tuned-private")
    with client(locked, None) as browser:
        page = browser.get(f"/runs/{run['id']}?by=modality")
        assert page.status_code == 303
        assert page.headers["location"] == f"/login?next=%2Fruns%2F{run['id']}%3Fby%3Dmodality"
        assert browser.post("/session", json={"api_key": "js_wrong"}).status_code == 401
        signed = browser.post("/session", json={"api_key": key})
        assert signed.status_code == 204
        cookie = signed.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        assert browser.get(f"/runs/{run['id']}").status_code == 200
        assert "tuned-private" in browser.get("/").text
        assert browser.delete("/session").status_code == 204
        browser.cookies.clear()
        assert browser.get("/").status_code == 303
        browser.post("/session", json={"api_key": stranger})
        assert browser.get(f"/runs/{run['id']}").status_code == 404
        assert "tuned-private" not in browser.get("/").text
    assert httpx.get(f"{locked}/login", params={"next": "//evil.example"}).status_code == 200
    assert 'data-next="/"' in httpx.get(f"{locked}/login?next=//evil.example").text


def test_keys_are_stored_as_digests_and_revocable(locked: str, pg_url: str) -> None:
    project = f"rev-{uuid.uuid4().hex[:6]}"
    key = new_key(pg_url, project)
    with session_factory(pg_url)() as session:
        rows = session.execute(text("SELECT prefix, sha256 FROM api_keys")).all()
    assert all(key not in (prefix, digest) for prefix, digest in rows)
    listed = cli("keys", "list", env={"JUDGE_DATABASE_URL": pg_url})
    assert key[:12] in listed.stdout and key not in listed.stdout and project in listed.stdout
    with client(locked, key) as api:
        assert api.get("/v1/runs").status_code == 200
        assert cli("keys", "revoke", key[:12], env={"JUDGE_DATABASE_URL": pg_url}).returncode == 0
        assert api.get("/v1/runs").status_code == 401
    assert cli("keys", "revoke", key[:12], env={"JUDGE_DATABASE_URL": pg_url}).returncode == 1


def test_rate_limit_is_per_key_and_shared_by_api_processes(
    pg_settings: Settings, pg_url: str
) -> None:
    """Two API servers on one Redis count one key's requests together; another key is free."""
    settings = _settings(pg_settings, rate_limit_per_minute=6)
    key = new_key(pg_url, f"rl-{uuid.uuid4().hex[:6]}")
    other = new_key(pg_url, f"rl-other-{uuid.uuid4().hex[:6]}")
    with (
        BackgroundServer(create_app(settings)) as one,
        BackgroundServer(create_app(settings)) as two,
        client(one.url, key) as first,
        client(two.url, key) as second,
        client(one.url, other) as third,
    ):
        statuses = [(first if i % 2 else second).get("/v1/runs").status_code for i in range(6)]
        assert statuses == [200] * 6
        limited = first.get("/v1/runs")
        if limited.status_code == 200:  # the minute turned over mid-test: one more window
            statuses = [second.get("/v1/runs").status_code for _ in range(5)]
            limited = first.get("/v1/runs")
        assert limited.status_code == 429, statuses
        assert 1 <= int(limited.headers["retry-after"]) <= 61
        assert third.get("/v1/runs").status_code == 200


def test_rate_limit_lets_requests_through_while_redis_is_away() -> None:
    """Redis only dispatches; an outage must not turn every authenticated request into a 500."""
    limiter = RateLimiter(per_minute=1, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    assert [limiter.hit("caller") for _ in range(3)] == [None, None, None]
    limiter.close()
    counting = RateLimiter(per_minute=2, redis_url=None)
    assert [counting.hit("a") is None for _ in range(3)] == [True, True, False]
    assert counting.hit("b") is None
