"""The dashboard in a real browser: Debian's chromium driven by Playwright.

A real RQ worker judges a small run on the simulated provider while the page is open. Each
test saves screenshots under tests/artifacts/ (git-ignored) for a person to look at. Every
page runs under the server's Content-Security-Policy, and a test fails on any violation.
"""

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, Route, expect, sync_playwright
from scipy.stats import norm

from judge_service.app import create_app
from judge_service.background import BackgroundServer
from judge_service.config import Settings
from judge_service.demo.sample import sample_pairs
from judge_service.simulate.config import SimulatorConfig
from judge_service.tables import ci_range
from tests.api.test_auth import new_key
from tests.conftest import Stack, StackFactory, create_run, simulated_judges, wait_until_done
from tests.dashboard.test_pages import PIXEL
from tests.test_cli import cli

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


# Reports each Content-Security-Policy violation of every document the page loads.
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.reportViolation(`${event.violatedDirective} ${event.blockedURI} on ${location.href}`);
});
"""


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    opened = context.new_page()
    errors: list[str] = []
    violations: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    opened.expose_function("reportViolation", lambda text: violations.append(text))
    opened.add_init_script(REPORT_VIOLATIONS)
    yield opened
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
    assert not violations, f"Content-Security-Policy violations: {violations}"


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)


@pytest.fixture
def slow_stack(stack_factory: StackFactory) -> Stack:
    """Judge calls take ~0.3 s, two at a time per judge, so a 40-pair run judges for several
    seconds (uncapped, the judges would follow no rate and take all 160 calls at once)."""

    def two_at_a_time(url: str) -> dict[str, dict[str, Any]]:
        return {
            name: {**judge, "max_concurrency": 2} for name, judge in simulated_judges(url).items()
        }

    return stack_factory(
        judges=two_at_a_time,
        simulator_config=SimulatorConfig(latency_mean_s=0.3, latency_jitter_s=0.05, seed=5),
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
    page.click('[data-testid="label-queue-link"]')
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


@pytest.mark.slow
def test_a_run_labelled_through_the_queue_in_the_browser_is_calibrated(
    page: Page, stack: Stack
) -> None:
    """Name yourself, label 32 blind pairs by keyboard: the run page shows the API's figure."""
    api = stack.api
    run = create_run(api, ["sim", "sim-anthropic"], candidate="tuned-queue")
    assert (
        api.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": sample_pairs(60)}).status_code == 202
    )
    stack.start_worker()
    wait_until_done(api, run["id"])

    page.goto(f"{api.base_url}/runs/{run['id']}")
    expect(page.locator('[data-testid="calibrated-reason"]')).to_contain_text("0 labels")
    expect(page.locator('[data-testid="label-advice"]')).to_have_text(
        "Label 30 more pairs for a calibrated figure."
    )
    page.click('[data-testid="label-queue-link"]')
    page.fill('[data-testid="annotator"]', "dr-queue")
    page.click("text=Start labelling")
    for turn in range(32):
        page.wait_for_url(re.compile(r"/pairs/\d+\?blind=true"))
        shown = page.url
        page.keyboard.press("1" if turn % 3 else "3")
        page.wait_for_url(lambda url, shown=shown: url != shown)

    stats = api.get(f"/v1/runs/{run['id']}/stats").json()
    calibrated = stats["calibrated"]
    assert calibrated["labels_used"] >= 32 and calibrated["excluded_reasons"] == {}
    page.goto(f"{api.base_url}/runs/{run['id']}")
    rate = page.locator('[data-testid="calibrated-rate"]')
    assert float(rate.get_attribute("data-value")) == pytest.approx(calibrated["estimate"])
    low, high = calibrated["ci"]
    expect(page.locator('[data-testid="calibrated-ci"]')).to_have_text(ci_range([low, high]))
    # 60 pairs bound the interval whatever the labels: the page says how far they can go.
    floor = 100 * norm.ppf(0.975) * (calibrated["label_variance"] / 60) ** 0.5
    expect(page.locator('[data-testid="label-advice"]')).to_have_text(
        f"More labels cannot narrow it below ±{floor:.1f} points on 60 pairs: judge more pairs "
        "for that."
    )
    shot(page, "run-calibrated")


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


def test_every_page_renders_under_the_policy_offline(page: Page, stack: Stack) -> None:
    """The pages and the API docs draw in full with nothing fetched from another host."""
    api = stack.api
    elsewhere: list[str] = []

    def local_only(route: Route) -> None:
        if route.request.url.startswith(f"{api.base_url}/"):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", local_only)
    run = create_run(api, ["sim", "sim-anthropic"], candidate="tuned-csp", baseline="base-csp")
    tracker = "https://tracker.example/pixel.png"
    pairs = [{**pair, "image_urls": [PIXEL, tracker]} for pair in sample_pairs(8)]
    assert api.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": pairs}).status_code == 202
    stack.start_worker()
    wait_until_done(api, run["id"])
    pair_id = api.get(f"/v1/runs/{run['id']}/pairs").json()["items"][0]["pair_id"]

    def visit(path: str) -> None:
        response = page.goto(f"{api.base_url}{path}")
        assert response is not None and response.ok, path
        assert "'unsafe-inline'" not in response.headers["content-security-policy"], path

    visit("/")
    expect(page.locator("tr[data-run-id]")).to_have_count(1)
    visit(f"/runs/{run['id']}")
    # The bars are drawn from their data- attributes: widths and positions applied.
    _check_stacked_bars(page, api.get(f"/v1/runs/{run['id']}/stats").json())
    dot = page.locator(".rate .dot").first
    assert dot.evaluate("dot => dot.dataset.left.endsWith('%') && dot.style.left") == (
        dot.get_attribute("data-left")
    )
    shade = page.locator('[data-testid="kappa"] td.kappa').first
    assert shade.evaluate("td => getComputedStyle(td).getPropertyValue('--k')") != ""
    shot(page, "csp-run")
    visit(f"/runs/{run['id']}/pairs")
    expect(page.locator("tr[data-pair-id]")).to_have_count(8)
    visit(f"/pairs/{pair_id}")
    thumbnail = page.locator(".thumbs img")
    expect(thumbnail).to_have_count(1)
    assert thumbnail.evaluate("img => img.complete && img.naturalWidth") == 1
    link = page.locator(".thumbs a.image-link")
    expect(link).to_have_attribute("href", tracker)
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    shot(page, "csp-pair")
    visit(f"/leaderboard?runs={run['id']}")
    expect(page.locator('[data-testid="leaderboard"] tr[data-model]')).to_have_count(2)
    assert page.locator(".rate .ci").first.evaluate("ci => ci.getBoundingClientRect().width") > 0
    visit("/login")
    # The runs page's model filter applies on change, with no inline handler.
    visit("/")
    page.select_option('select[name="model"]', "tuned-csp")
    page.wait_for_url(re.compile(r"\?model=tuned-csp"))

    # Swagger UI, from this server's copy, lists every operation of the API.
    operations = sum(len(methods) for methods in api.get("/openapi.json").json()["paths"].values())
    visit("/docs")
    expect(page.locator(".opblock")).to_have_count(operations, timeout=30_000)
    page.locator(".opblock-summary-path", has_text="/v1/runs/{run_id}/stats").first.click()
    expect(page.locator(".opblock-body").first).to_be_visible()
    shot(page, "csp-docs")
    visit("/redoc")
    expect(page.locator("h1", has_text="judge-service")).to_be_visible(timeout=30_000)
    expect(page.get_by_text("/v1/runs/{run_id}/stats").first).to_be_attached()
    shot(page, "csp-redoc")
    assert elsewhere == []


def test_a_signed_in_browser_labels_as_its_keys_annotator(
    page: Page, pg_settings: Settings, pg_url: str
) -> None:
    """The page shows the key's annotator, read-only, and the label is recorded under it."""
    settings = pg_settings.model_copy(update={"auth": "required"})
    made = cli("keys", "create", "--project", "browser-labels", "--annotator", "alice",
               env={"JUDGE_DATABASE_URL": pg_url})  # fmt: skip
    key = made.stdout.strip()
    with (
        BackgroundServer(create_app(settings)) as server,
        httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}) as api,
    ):
        run = create_run(api, ["sim"])
        api.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": sample_pairs(1)})
        pair_id = api.get(f"/v1/runs/{run['id']}/pairs").json()["items"][0]["pair_id"]
        page.goto(f"{server.url}/login")
        page.evaluate("localStorage.setItem('judge.annotator', 'bob')")  # remembered before
        page.fill('input[name="api_key"]', key)
        page.click("text=Sign in >> nth=-1")
        page.wait_for_url(f"{server.url}/")
        page.goto(f"{server.url}/pairs/{pair_id}")
        annotator = page.locator('[data-testid="annotator"]')
        expect(annotator).to_have_value("alice")
        expect(annotator).to_have_attribute("readonly", "")
        page.click('button[data-label="candidate"]')
        expect(page.locator('[data-testid="label-status"]')).to_have_text("Saved: candidate")
        labels = api.get(f"/v1/pairs/{pair_id}/human-labels").json()
    assert [(x["annotator"], x["label"]) for x in labels] == [("alice", "candidate")]
