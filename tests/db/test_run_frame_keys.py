"""Metadata keys of any spelling break figures down, on SQLite as on PostgreSQL.

A key is data, never part of a JSON path: quotes, backslashes, dots, brackets, `$`, `*`,
spaces and non-ASCII letters reach the stratum breakdown, the key listing, the run page and
the pair filter unchanged.
"""

import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from judge_service.app import create_app
from judge_service.background import BackgroundServer
from judge_service.config import Settings
from judge_service.db import migrate
from judge_service.db.engine import session_factory
from judge_service.db.models import Run
from judge_service.db.run_frame import MISSING_STRATUM, metadata_keys
from judge_service.demo.sample import sample_pairs
from tests.conftest import create_run, wait_until_done

KEYS = [
    '!"',
    'd"quote',
    '"',
    "back\\slash",
    "\\",
    '\\"',
    "a.b",
    "x[0]",
    "$",
    "$.modality",
    "*",
    "two words",
    "it's",
    "100%",
    "ключ ü",
]
VALUES = ['one "q" \\', "two ü"]
PAIRS = 9  # the last one has no metadata: the "(none)" stratum


@pytest.fixture(params=["sqlite", "postgresql"])
def api(
    request: pytest.FixtureRequest, tmp_path: Path, judges: dict[str, dict[str, Any]]
) -> Iterator[tuple[str, httpx.Client]]:
    if request.param == "postgresql":
        url = request.getfixturevalue("make_migrated_database")()
    else:
        url = f"sqlite:///{tmp_path / 'keys.db'}"
        migrate.upgrade(url)
    settings = Settings(database_url=url, judges=judges)
    with (
        BackgroundServer(create_app(settings)) as server,
        httpx.Client(base_url=server.url, timeout=60) as client,
    ):
        yield url, client


def _value(index: int, key_index: int) -> str:
    return VALUES[(index + key_index) % 2]


@pytest.fixture
def run(api: tuple[str, httpx.Client]) -> dict[str, Any]:
    _, client = api
    run = create_run(client, ["sim"])
    pairs = sample_pairs(PAIRS)
    for index, pair in enumerate(pairs):
        last = index == PAIRS - 1
        pair["metadata"] = {} if last else {k: _value(index, j) for j, k in enumerate(KEYS)}
    response = client.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": pairs})
    assert response.status_code == 202, response.text
    wait_until_done(client, run["id"])
    return run


def _expected_counts(key_index: int) -> dict[str, int]:
    counts = {MISSING_STRATUM: 1}
    for index in range(PAIRS - 1):
        value = _value(index, key_index)
        counts[value] = counts.get(value, 0) + 1
    return counts


def _html_values(page: str, pattern: str) -> list[str]:
    return [html.unescape(value) for value in re.findall(pattern, page)]


def test_every_key_is_listed_and_breaks_the_figures_down(
    api: tuple[str, httpx.Client], run: dict[str, Any]
) -> None:
    url, client = api
    with session_factory(url)() as session:
        assert metadata_keys(session, session.get_one(Run, run["id"])) == sorted(KEYS)
    for key_index, key in enumerate(KEYS):
        counts = _expected_counts(key_index)
        response = client.get(f"/v1/runs/{run['id']}/stats", params={"by": key})
        assert response.status_code == 200, (key, response.text)
        body = response.json()
        assert body["by"] == key
        assert set(body["by_stratum"]) == set(counts), key
        assert sum(s["panel"]["n"] for s in body["by_stratum"].values()) == body["n"]


def test_run_page_live_view_and_pair_filter_take_every_key(
    api: tuple[str, httpx.Client], run: dict[str, Any]
) -> None:
    _, client = api
    run_id = run["id"]
    for key_index, key in enumerate(KEYS):
        page = client.get(f"/runs/{run_id}", params={"by": key})
        assert page.status_code == 200, (key, page.text)
        assert _html_values(page.text, r'<option value="([^"]*)"') == sorted(KEYS)
        assert _html_values(page.text, r'<option value="([^"]*)" selected') == [key]
        counts = _expected_counts(key_index)
        assert sorted(_html_values(page.text, r'data-stratum="([^"]*)"')) == sorted(counts)
        live = client.get(f"/runs/{run_id}/live", params={"by": key})
        assert live.status_code == 200, (key, live.text)
        assert sorted(_html_values(live.text, r'data-stratum="([^"]*)"')) == sorted(counts)
        for value in VALUES:
            pairs = client.get(f"/runs/{run_id}/pairs", params={"key": key, "value": value})
            assert pairs.status_code == 200, (key, pairs.text)
            (total,) = re.findall(r'data-testid="pair-total" data-total="(\d+)"', pairs.text)
            assert int(total) == counts[value], (key, value)
