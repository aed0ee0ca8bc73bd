"""Where the browser goes after signing in: a path on this site, whatever `next` says.

`next` is judged as the browser will read it: browsers drop tabs and line breaks and strip
leading spaces, so "/<tab>/evil.example" is "//evil.example", another host.
"""

import re
import uuid
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page

from judge_service.app import create_app
from judge_service.background import BackgroundServer
from judge_service.config import Settings
from judge_service.dashboard.session import safe_next
from tests.api.test_auth import new_key
from tests.dashboard.test_browser import browser, page  # noqa: F401 (fixtures)

HOSTILE = [
    "/\t/evil.example/x",  # ?next=/%09/evil.example/x: the tab is dropped, "//evil.example/x"
    "/\r\n/evil.example",
    "/\n/evil.example",
    "//evil.example",
    "/\\evil.example",
    "\\/evil.example",
    "\\\\evil.example",
    " //evil.example",  # leading spaces are stripped by the browser
    "\t//evil.example",
    "/\x00/evil.example",
    "/ok\x7f",
    "/ok\x85",  # C1 control (NEL)
    "https://evil.example",
    "javascript:alert(1)",
    "evil.example",
    "",
    None,
]
SAME_SITE = [
    ("/", "/"),
    ("/runs/3?x=1", "/runs/3?x=1"),
    ("/runs/3/pairs?key=a&value=b#top", "/runs/3/pairs?key=a&value=b#top"),
    (" /runs/3 ", "/runs/3"),  # what the browser would follow
    # Already percent-encoded: browsers resolve "%2F" as a path character, never as "/".
    ("/%2F%2Fevil.example", "/%2F%2Fevil.example"),
    ("/%09/evil.example", "/%09/evil.example"),
    ("/a:b", "/a:b"),
]


@pytest.mark.parametrize("target", HOSTILE)
def test_a_target_the_browser_would_read_as_another_site_becomes_the_home_page(
    target: str | None,
) -> None:
    assert safe_next(target) == "/"


@pytest.mark.parametrize(("target", "kept"), SAME_SITE)
def test_a_path_on_this_site_is_kept(target: str, kept: str) -> None:
    assert safe_next(target) == kept


@pytest.fixture(scope="module")
def locked(pg_settings: Settings) -> Iterator[str]:
    settings = pg_settings.model_copy(update={"auth": "required"})
    with BackgroundServer(create_app(settings)) as server:
        yield server.url


def _redirect_target(html: str, pattern: str) -> str:
    (value,) = re.findall(pattern, html)
    return value


SIGNED_IN_GOES_TO = r'data-next="([^"]*)"'  # where the page script goes once the key is good
OPEN_LINK_GOES_TO = r'<a href="([^"]*)">continue</a>'  # a server without keys links on


@pytest.mark.parametrize("target", [t for t in HOSTILE if t])
def test_the_sign_in_page_sends_a_hostile_next_home(
    locked: str, pg_api: httpx.Client, target: str
) -> None:
    login = httpx.get(f"{locked}/login", params={"next": target})
    assert login.status_code == 200
    assert _redirect_target(login.text, SIGNED_IN_GOES_TO) == "/"
    open_page = pg_api.get("/login", params={"next": target})
    assert open_page.status_code == 200
    assert _redirect_target(open_page.text, OPEN_LINK_GOES_TO) == "/"


def test_the_sign_in_page_keeps_a_path_on_this_site(locked: str) -> None:
    login = httpx.get(f"{locked}/login", params={"next": "/runs/3?x=1&by=modality"})
    assert _redirect_target(login.text, SIGNED_IN_GOES_TO) == "/runs/3?x=1&amp;by=modality"


@pytest.mark.slow
def test_signing_in_from_a_hostile_link_lands_on_this_site(
    page: Page,  # noqa: F811 (the fixture imported above)
    locked: str,
    pg_url: str,
) -> None:
    """In a real browser: the link an attacker sends, then the key typed in."""
    key = new_key(pg_url, f"redirect-{uuid.uuid4().hex[:6]}")
    page.goto(f"{locked}/login?next=/%09/evil.example/x")
    page.fill('input[name="api_key"]', key)
    page.click("text=Sign in >> nth=-1")
    page.wait_for_url(f"{locked}/")
    assert page.url == f"{locked}/"
