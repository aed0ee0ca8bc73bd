"""Project API keys: required when configured, another project's data is a 404, per-key limits.

Every request goes to the app on PostgreSQL, over a real socket unless it must come from an
address this machine cannot connect from; keys are made the way the operator makes them
(`judge-service keys create`).
"""

import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from judge_service.app import create_app
from judge_service.background import BackgroundServer, free_port
from judge_service.config import Settings
from judge_service.db.engine import session_factory
from judge_service.demo.sample import sample_pairs
from judge_service.web.auth import ANONYMOUS_MAX_BODY_BYTES, RateLimiter
from tests.api.plans import apply_plan, random_plan
from tests.conftest import REPO, cli_env, create_run
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


UPLOAD = 60 * 1024 * 1024  # under the 64 MiB limit: before, read in full and only then refused
REMOTE = ("203.0.113.9", 40000)  # TEST-NET-3: an address no test client connects from


@contextmanager
def launched(command: list[str], env: dict[str, str], port: int) -> Iterator[str]:
    """The API as a process of its own, as an operator starts it; yields its URL."""
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile() as output:
        process = subprocess.Popen(
            command, env=cli_env(env), cwd=REPO, stdout=output, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{url}/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    output.seek(0)
                    raise AssertionError(f"{command} did not start: {output.read().decode()}")
                time.sleep(0.1)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=30)


Launcher = Callable[[str], AbstractContextManager[str]]


def serve_cli(database_url: str) -> AbstractContextManager[str]:
    port = free_port()
    command = [sys.executable, "-m", "judge_service", "serve", "--port", str(port)]
    return launched(command, {"JUDGE_DATABASE_URL": database_url}, port)


def uvicorn_factory(database_url: str) -> AbstractContextManager[str]:
    """`uvicorn --factory`: the code path gunicorn's uvicorn workers take too."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "--factory", "judge_service.app:create_app"]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    return launched(command, {"JUDGE_DATABASE_URL": database_url}, port)


@pytest.mark.parametrize("launch", [serve_cli, uvicorn_factory], ids=["serve", "uvicorn"])
def test_auto_needs_a_key_through_a_proxy_however_the_app_is_launched(
    launch: Launcher, make_migrated_database: Callable[[], str]
) -> None:
    """JUDGE_AUTH unset (auto), listening on loopback, behind a reverse proxy on this machine.

    Before, `serve` on loopback and `uvicorn --factory` anywhere served every project's data
    to whoever reached them, as the app only ever saw "auto" translated by `serve`.
    """
    database_url = make_migrated_database()
    bearer = {"Authorization": f"Bearer {new_key(database_url, 'proxied')}"}
    proxied = [
        {"X-Forwarded-For": REMOTE[0]},  # uvicorn takes the client address from it
        {"Forwarded": f"for={REMOTE[0]}"},  # uvicorn leaves the address as it is
        {"X-Real-IP": REMOTE[0]},
        {"Host": "judge.example.org"},  # a proxy passing the public name on
    ]
    with launch(database_url) as url:
        assert httpx.get(f"{url}/v1/runs").status_code == 200  # this machine: open
        for headers in proxied:
            refused = httpx.get(f"{url}/v1/runs", headers=headers)
            assert refused.status_code == 401, headers
            assert "required beyond this machine" in refused.json()["detail"]
            keyed = httpx.get(f"{url}/v1/runs", headers=headers | bearer)
            assert keyed.status_code == 200, headers
            page = httpx.get(f"{url}/runs/1", headers=headers)
            assert (page.status_code, page.headers["location"]) == (303, "/login?next=%2Fruns%2F1")
            assert httpx.get(f"{url}/healthz", headers=headers).status_code == 200


def test_the_factory_applies_the_policy_to_each_client(
    make_migrated_database: Callable[[], str],
) -> None:
    """`create_app()` itself, no launcher: a client beyond loopback needs a key under auto and
    is refused outright under off; one on loopback is open under both."""
    database_url = make_migrated_database()
    key = new_key(database_url, "factory")
    bearer = {"Authorization": f"Bearer {key}"}

    def statuses(auth: str, client: tuple[str, int], headers: dict[str, str]) -> list[int]:
        app = create_app(Settings(database_url=database_url, auth=auth))  # type: ignore[arg-type]
        base = "http://127.0.0.1:8000"
        with TestClient(app, base, client=client, headers=headers, follow_redirects=False) as c:
            return [c.get("/v1/runs").status_code, c.get("/").status_code]

    assert statuses("auto", REMOTE, {}) == [401, 303]
    assert statuses("auto", REMOTE, bearer) == [200, 200]
    assert statuses("auto", ("127.0.0.1", 40000), {}) == [200, 200]
    assert statuses("auto", ("::1", 40000), {}) == [200, 200]
    # A web page whose name was rebound to 127.0.0.1 still sends its own name as the Host.
    assert statuses("auto", ("127.0.0.1", 40000), {"Host": "rebound.example"}) == [401, 303]
    assert statuses("required", ("127.0.0.1", 40000), {}) == [401, 303]
    assert statuses("off", ("127.0.0.1", 40000), {}) == [200, 200]
    # Never open to the network, however launched, even with a key: off checks none.
    assert statuses("off", REMOTE, bearer) == [403, 403]


def _headers_only(url: str, head: str) -> bytes:
    """Sends a request's head and none of its body; returns all the server answers."""
    host, port = url.removeprefix("http://").split(":")
    # Within uvicorn's 5 s keep-alive: an answer that leaves the connection open times out.
    with socket.create_connection((host, int(port)), timeout=4) as sock:
        sock.sendall(head.encode() + b"\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def test_a_request_without_a_valid_key_is_refused_before_its_body_is_sent(
    locked: str, pg_url: str
) -> None:
    """Before, the server read up to 64 MiB of anyone's body and then answered 422 or 413."""
    declared = f"Content-Type: application/json\r\nContent-Length: {UPLOAD}\r\n"
    for auth in ("", "Authorization: Bearer js_not-a-key\r\n"):
        head = f"POST /v1/runs/1/pairs HTTP/1.1\r\nHost: judge\r\n{auth}{declared}"
        answer = _headers_only(locked, head)  # the server closes: it wants no more
        assert answer.startswith(b"HTTP/1.1 401 "), answer[:200]
        assert b"\r\nconnection: close\r\n" in answer.lower()
    chunked = "POST /v1/runs HTTP/1.1\r\nHost: judge\r\nTransfer-Encoding: chunked\r\n"
    assert _headers_only(locked, chunked).startswith(b"HTTP/1.1 401 ")

    # A client that sends its body at once stops soon after the answer comes.
    pulled = 0

    def body() -> Iterator[bytes]:
        nonlocal pulled
        for _ in range(UPLOAD // 65536):
            pulled += 65536
            yield b" " * 65536

    refused = httpx.post(f"{locked}/v1/runs/1/pairs", content=body(), timeout=30)
    assert refused.status_code == 401
    assert pulled < UPLOAD // 4, pulled

    # With a key the same upload is read: it is over no limit, so the route answers.
    key = new_key(pg_url, f"upload-{uuid.uuid4().hex[:6]}")
    pulled = 0
    with client(locked, key) as api:
        assert api.post("/v1/runs/999999999/pairs", content=body()).status_code == 422
    assert pulled == UPLOAD


def test_what_needs_no_key_takes_a_few_kib_of_body_at_most(locked: str, pg_url: str) -> None:
    """Probes, the sign-in page and form, static files and the docs answer without a key;
    the body of such a request may not make the server buffer megabytes."""
    for path in ("/healthz", "/login", "/openapi.json", "/static/dashboard.css"):
        assert httpx.get(f"{locked}{path}").status_code == 200, path
    head = f"GET /healthz HTTP/1.1\r\nHost: judge\r\nContent-Length: {UPLOAD}\r\n"
    answer = _headers_only(locked, head)
    assert answer.startswith(b"HTTP/1.1 413 ") and b"\r\nconnection: close\r\n" in answer.lower()
    padded = {"api_key": "js_" + "x" * ANONYMOUS_MAX_BODY_BYTES}
    assert httpx.post(f"{locked}/session", json=padded).status_code == 413
    key = new_key(pg_url, f"signin-{uuid.uuid4().hex[:6]}")
    assert httpx.post(f"{locked}/session", json={"api_key": key}).status_code == 204
