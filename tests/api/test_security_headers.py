"""Browser hardening on every response, on a real server over PostgreSQL.

The dashboard shares its origin with the API and the signed-in cookie: every response
must say what a browser may load, that nobody may frame it, and to send no Referer.
"""

import re
from collections.abc import Iterator

import httpx
import pytest
from pydantic import ValidationError

from judge_service.app import create_app
from judge_service.background import BackgroundServer
from judge_service.config import Settings
from judge_service.demo.sample import sample_pairs
from tests.conftest import create_run
from tests.dashboard.test_pages import PIXEL

ALLOWED = "img.allowed.example"
TRACKER = "https://tracker.example/pixel.png"


def _policy(response: httpx.Response) -> dict[str, list[str]]:
    """The Content-Security-Policy as directive -> sources."""
    directives = [part.split() for part in response.headers["content-security-policy"].split(";")]
    return {name: sources for name, *sources in directives}


def _assert_hardened(response: httpx.Response) -> None:
    where = f"{response.request.method} {response.request.url.path} ({response.status_code})"
    assert response.headers.get("x-frame-options") == "DENY", where
    assert response.headers.get("x-content-type-options") == "nosniff", where
    assert response.headers.get("referrer-policy") == "no-referrer", where
    policy = _policy(response)
    assert policy["default-src"] == ["'self'"], where
    assert policy["frame-ancestors"] == ["'none'"], where


@pytest.fixture(scope="module")
def allowing_api(pg_settings: Settings) -> Iterator[httpx.Client]:
    """A server that shows images from ALLOWED, with a small body limit and a failing route."""
    app = create_app(
        pg_settings.model_copy(update={"image_hosts": [ALLOWED], "max_body_bytes": 1024})
    )

    def fail() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/fail", fail)
    with (
        BackgroundServer(app) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        yield client


def test_every_kind_of_response_is_hardened(
    pg_api: httpx.Client, allowing_api: httpx.Client
) -> None:
    run = create_run(pg_api, ["sim"])
    answers = [
        pg_api.get("/"),  # a page
        pg_api.get(f"/runs/{run['id']}"),
        pg_api.get("/login"),
        pg_api.get("/v1/runs"),  # API JSON
        pg_api.get("/openapi.json"),
        pg_api.get(f"/v1/runs/{run['id']}/judgments", params={"format": "csv"}),  # streamed
        pg_api.get("/no-such-page"),  # 404s
        pg_api.get("/v1/runs/999999999"),
        pg_api.get("/static/no-such-file.css"),
        pg_api.get("/v1/runs/not-a-number"),  # 422
        pg_api.get("/static/dashboard.css"),  # static files
        pg_api.get("/static/dashboard.js"),
        pg_api.get("/docs"),  # the API docs and their assets
        pg_api.get("/docs/swagger-ui-bundle.js"),
        pg_api.get("/redoc"),
        pg_api.get("/redoc/redoc.standalone.js"),
        allowing_api.post("/v1/runs", content=b"x" * 2048),  # 413
        allowing_api.get("/fail"),  # 500
    ]
    statuses = [answer.status_code for answer in answers]
    assert statuses == [200] * 6 + [404] * 3 + [422] + [200] * 6 + [413, 500]
    for answer in answers:
        _assert_hardened(answer)


def test_the_policy_forbids_inline_script_and_style_frames_and_plugins(
    pg_api: httpx.Client, allowing_api: httpx.Client
) -> None:
    policy = _policy(pg_api.get("/"))
    assert policy == {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    assert _policy(pg_api.get("/v1/runs")) == policy
    # An allowed image host is the only source added, and to images only.
    assert _policy(allowing_api.get("/")) == {
        **policy,
        "img-src": ["'self'", "data:", f"https://{ALLOWED}"],
    }
    # ReDoc's page adds the two stylesheets its bundle injects (by hash) and its search
    # worker; still no 'unsafe-inline' and no other host.
    redoc = _policy(pg_api.get("/redoc"))
    assert {name: v for name, v in redoc.items() if name not in ("style-src", "worker-src")} == {
        name: v for name, v in policy.items() if name != "style-src"
    }
    assert redoc["worker-src"] == ["'self'", "blob:"]
    assert redoc["style-src"][0] == "'self'"
    assert all(re.fullmatch(r"'sha256-[A-Za-z0-9+/]{43}='", s) for s in redoc["style-src"][1:])


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_api_docs_load_only_from_this_server(pg_api: httpx.Client, path: str) -> None:
    page = pg_api.get(path)
    assert page.status_code == 200
    assert "<script>" not in page.text and "<style" not in page.text and "style=" not in page.text
    assets = re.findall(r"""(?:src|href)=["']([^"']+)""", page.text)
    assert len(assets) >= 2
    for asset in assets:
        assert asset.startswith("/") and not asset.startswith("//"), asset
        answer = pg_api.get(asset)
        assert answer.status_code == 200, asset
        kind = "text/css" if asset.endswith(".css") else "text/javascript"
        assert answer.headers["content-type"].startswith(kind), asset
    # The spec the page names is this server's.
    (spec,) = re.findall(r'(?:data-openapi-url|spec-url)="([^"]+)"', page.text)
    assert spec == "/openapi.json"
    if path == "/redoc":  # the bundle asks for its logo beside the page
        assert pg_api.get("/redoc/logo-mini.svg").status_code == 200


def _pair_page(viewer: httpx.Client, pair_id: int) -> str:
    page = viewer.get(f"/pairs/{pair_id}")
    assert page.status_code == 200
    (images,) = re.findall(r'<div class="thumbs" data-testid="images">(.*?)</div>', page.text, re.S)
    return images


def test_only_allowed_images_load_in_the_viewers_browser(
    pg_api: httpx.Client, allowing_api: httpx.Client
) -> None:
    allowed = f"https://{ALLOWED}/scan.png"
    disguised = f"https://{ALLOWED}@tracker.example/pixel.png"  # the browser's host: tracker
    other_port = f"https://{ALLOWED}:8443/scan.png"
    run = create_run(pg_api, ["sim"])
    pair = {**sample_pairs(1)[0], "image_urls": [TRACKER, allowed, disguised, other_port, PIXEL]}
    assert pg_api.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": [pair]}).status_code == 202
    (item,) = pg_api.get(f"/v1/runs/{run['id']}/pairs").json()["items"]

    def shown(images: str) -> tuple[list[str], list[str]]:
        drawn = re.findall(r'<img src="([^"]+)"', images)
        links = re.findall(r'<a class="image-link" href="([^"]+)"', images)
        for link in links:
            assert f'href="{link}" target="_blank" rel="noopener noreferrer"' in images
        return drawn, links

    # No host allowed (the default): only the data: image is drawn, the rest are links.
    drawn, links = shown(_pair_page(pg_api, item["pair_id"]))
    assert drawn == [PIXEL]
    assert links == [TRACKER, allowed, disguised, other_port]
    # The operator allows one host: its images are drawn, on its default port only.
    drawn, links = shown(_pair_page(allowing_api, item["pair_id"]))
    assert drawn == [allowed, PIXEL]
    assert links == [TRACKER, disguised, other_port]


def test_image_hosts_come_from_the_environment_as_a_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JUDGE_IMAGE_HOSTS", " Img.Example.com, cdn.example.org:8443 ")
    assert Settings().image_hosts == ["img.example.com", "cdn.example.org:8443"]
    monkeypatch.delenv("JUDGE_IMAGE_HOSTS")
    assert Settings().image_hosts == []
    for wrong in ("https://img.example.com", "img.example.com/path", "*.example.com", "a b"):
        with pytest.raises(ValidationError, match="image_hosts") as refused:
            Settings(image_hosts=wrong)
        assert "must be a host name" in str(refused.value)
