"""The dashboard in a real browser: Debian's chromium driven by Playwright.

A real RQ worker judges a small run on the simulated provider while the page is open. Each
test saves screenshots under tests/artifacts/ (git-ignored) for a person to look at.
"""

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from judge_service.api.app import create_app
from judge_service.background import BackgroundServer
from judge_service.config import Settings
from judge_service.demo.sample import sample_pairs
from judge_service.simulate.config import SimulatorConfig
from tests.api.test_auth import new_key
from tests.conftest import Stack, StackFactory, create_run, wait_until_done
from tests.dashboard.test_pages import PIXEL

pytestmark = pytest.mark.slow

CHROMIUM = Path(os.environ.get("JUDGE_TEST_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
# As root in a container, without a GPU, and quiet on a machine with no internet.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (.ci/run does)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)


@pytest.fixture
def slow_stack(stack_factory: StackFactory) -> Stack:
    """Judge calls take ~0.3 s, so a 40-pair run judges for several seconds."""
    return stack_factory(
        simulator_config=SimulatorConfig(latency_mean_s=0.3, latency_jitter_s=0.05, seed=5)
    )


def _finished(page: Page) -> int:
    return int(page.get_attribute('[data-testid="progress-text"]', "data-finished") or "0")


def test_run_page_follows_a_judging_run_live(page: Page, slow_stack: Stack) -> None:
    api = slow_stack.api
    run = create_run(api, ["sim", "sim-anthropic"], rubric="reasoning-trace")
    response = api.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": sample_pairs(40)})
    assert response.status_code == 202
    page.goto(f"{api.base_url}/runs/{run['id']}")
    page.evaluate("window.loadedOnce = true")
    assert _finished(page) == 0
    slow_stack.start_worker()

    # Progress moves without a reload: the marker set on the first load survives.
    page.wait_for_function(
        "() => Number(document.querySelector('[data-testid=progress-text]').dataset.finished) > 0",
        timeout=60_000,
    )
    first = _finished(page)
    shot(page, "run-live-judging")
    assert first < 40 * 2 * 2, "the run finished before the page could see it judging"
    page.wait_for_function(
        f"() => Number(document.querySelector('[data-testid=progress-text]')"
        f".dataset.finished) > {first}",
        timeout=60_000,
    )
    assert page.evaluate("window.loadedOnce") is True
    wait_until_done(api, run["id"])
    expect(page.locator(".run-body")).to_have_attribute("data-status", "done", timeout=30_000)
    assert page.evaluate("window.loadedOnce") is True
    shot(page, "run-done")
    # Readable at laptop width: nothing runs off the side of a 1280-pixel window.
    page.set_viewport_size({"width": 1280, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280

    stats = api.get(f"/v1/runs/{run['id']}/stats").json()
    rate = page.locator('[data-testid="headline-rate"]')
    assert float(rate.get_attribute("data-value") or "nan") == stats["win_rate"]
    expect(rate).to_have_text(f"{100 * stats['win_rate']:.1f}%")
    _check_stacked_bars(page, stats)


def _check_stacked_bars(page: Page, stats: dict[str, Any]) -> None:
    """Each bar's segments add up to its judge's counts; their drawn widths add up too."""
    bars = page.locator('[data-testid="stacked"]')
    names = [bars.nth(i).get_attribute("data-name") for i in range(bars.count())]
    assert names == [*stats["judges"], "panel"]
    for i, name in enumerate(names):
        figures = stats["panel"] if name == "panel" else stats["per_judge"][name]
        bar = bars.nth(i)
        segments = bar.locator(".seg")
        counts = {
            segments.nth(k).get_attribute("data-kind"): int(
                segments.nth(k).get_attribute("data-count") or "-1"
            )
            for k in range(segments.count())
        }
        assert counts == {k: figures[k] for k in ("wins", "ties", "inconsistent", "losses")}
        assert int(bar.get_attribute("data-total") or "-1") == figures["n"] == sum(counts.values())
        track = bar.locator(".bar").bounding_box()
        widths = [segments.nth(k).bounding_box() for k in range(segments.count())]
        assert track is not None and all(widths)
        drawn = sum(box["width"] for box in widths if box)
        assert drawn == pytest.approx(track["width"] - 2, abs=2)  # inside a 1px border
        text = bar.locator(".num").inner_text()
        for kind in ("wins", "ties", "inconsistent", "losses"):
            assert re.search(rf"\b{figures[kind]:,} {kind}\b", text), (kind, text)


def test_labels_clicked_in_the_browser_reach_the_api(page: Page, stack: Stack) -> None:
    api = stack.api
    run = create_run(api, ["sim"], candidate="tuned-label")
    pairs = [{**pair, "image_urls": [PIXEL]} for pair in sample_pairs(6)]
    assert api.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": pairs}).status_code == 202
    stack.start_worker()
    wait_until_done(api, run["id"])

    # From the pair browser: filter, open a pair, name yourself, click.
    page.goto(f"{api.base_url}/runs/{run['id']}/pairs")
    page.select_option('select[name="outcome"]', "candidate")
    page.click("text=Filter")
    wins = [
        item["pair_id"]
        for item in api.get(f"/v1/runs/{run['id']}/pairs").json()["items"]
        if item["panel"] == "candidate"
    ]
    rows = page.locator("tr[data-pair-id]")
    expect(rows).to_have_count(len(wins))
    shot(page, "pair-browser")
    rows.first.locator("a").click()
    pair_id = int(page.url.rsplit("/", 1)[1])
    assert pair_id == wins[0]
    thumbnail = page.locator(".thumbs img")
    expect(thumbnail).to_have_count(1)
    assert thumbnail.evaluate("img => img.complete && img.naturalWidth") == 1
    page.fill('[data-testid="annotator"]', "dr-who")
    page.click('button[data-label="candidate"]')
    expect(page.locator('[data-testid="label-status"]')).to_have_text("Saved: candidate")
    expect(page.locator('[data-testid="labels"] li')).to_have_text(["dr-who: candidate"])
    shot(page, "pair")
    labels = api.get(f"/v1/pairs/{pair_id}/human-labels").json()
    assert [(x["annotator"], x["label"]) for x in labels] == [("dr-who", "candidate")]
    # A second thought replaces the first: one label per annotator and pair.
    page.keyboard.press("1")
    expect(page.locator('[data-testid="labels"] li')).to_have_text(["dr-who: baseline"])
    labels = api.get(f"/v1/pairs/{pair_id}/human-labels").json()
    assert [(x["annotator"], x["label"]) for x in labels] == [("dr-who", "baseline")]

    # Blind labelling from the run page, by keyboard: "2" is a tie, then the next pair opens.
    page.goto(f"{api.base_url}/runs/{run['id']}")
    page.click("text=Label a random sample >> nth=0")
    page.wait_for_url(re.compile(r"/pairs/\d+\?blind=true"))
    blind_id = int(re.findall(r"/pairs/(\d+)", page.url)[0])
    assert blind_id != pair_id  # dr-who labelled that one already
    expect(page.locator('[data-testid="annotator"]')).to_have_value("dr-who")
    shot(page, "pair-blind")
    page.keyboard.press("2")
    page.wait_for_url(lambda url: f"/pairs/{blind_id}?" not in url)
    labels = api.get(f"/v1/pairs/{blind_id}/human-labels").json()
    assert [(x["annotator"], x["label"]) for x in labels] == [("dr-who", "tie")]

    # The run page now reports agreement with people.
    page.goto(f"{api.base_url}/runs/{run['id']}")
    human = page.locator('[data-testid="human"]')
    expect(human).to_be_visible()
    stats = api.get(f"/v1/runs/{run['id']}/stats").json()
    assert stats["human"]["labels"] == 2
    expect(page.locator("text=2 labels on 2 pairs by 1 annotator")).to_be_visible()


def test_runs_and_leaderboard_pages_render(page: Page, stack: Stack) -> None:
    api = stack.api
    runs = [
        create_run(api, ["sim"], candidate=name, baseline="shot-base")
        for name in ("shot-v1", "shot-v2")
    ]
    for run in runs:
        assert api.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": sample_pairs(10)})
    stack.start_worker()
    for run in runs:
        wait_until_done(api, run["id"])
    page.goto(f"{api.base_url}/?model=shot-base")
    expect(page.locator("tr[data-run-id]")).to_have_count(2)
    shot(page, "runs")
    ids = ",".join(str(run["id"]) for run in runs)
    board = api.get("/v1/leaderboard", params={"runs": ids}).json()
    # Without a choice, the page fits the newest run and the runs linked to it by a model.
    page.goto(f"{api.base_url}/leaderboard")
    models = page.locator('[data-testid="leaderboard"] tr[data-model]')
    expect(models).to_have_count(3)
    assert [models.nth(i).get_attribute("data-model") for i in range(3)] == [
        m["model"] for m in board["models"]
    ]
    shot(page, "leaderboard")


def test_signing_in_with_a_key_in_the_browser(
    page: Page, pg_settings: Settings, pg_url: str
) -> None:
    """With keys required, a page sends the browser to sign in, then back where it was."""
    settings = Settings(
        database_url=pg_settings.database_url,
        redis_url=pg_settings.redis_url,
        queue_name=pg_settings.queue_name,
        judges=pg_settings.judges,
        auth="required",
    )
    key = new_key(pg_url, "browser-team")
    with BackgroundServer(create_app(settings)) as server:
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}) as api:
            run = create_run(api, ["sim"], candidate="tuned-signed-in")
        page.goto(f"{server.url}/runs/{run['id']}")
        page.wait_for_url(re.compile(r"/login\?next="))
        page.fill('input[name="api_key"]', "js_wrong")
        page.click("text=Sign in >> nth=-1")
        expect(page.locator("#login-status")).to_have_text("Unknown or revoked key.")
        page.fill('input[name="api_key"]', key)
        page.click("text=Sign in >> nth=-1")
        page.wait_for_url(f"{server.url}/runs/{run['id']}")
        expect(page.locator("h1")).to_contain_text(f"Run #{run['id']}")
        shot(page, "signed-in")
        cookies = page.context.cookies()
        assert [(c["name"], c["httpOnly"], c["sameSite"]) for c in cookies] == [
            ("judge_key", True, "Strict")
        ]
        page.click("text=Sign out")
        page.wait_for_url(f"{server.url}/login")
        assert page.context.cookies() == []
