"""The dashboard's pages over HTTP, on verdicts written into PostgreSQL.

Every figure a page shows is checked against the JSON API (`GET /stats`, `GET /pairs`),
which is itself checked against independent counts in tests/api/test_stats.py.
"""

import re
from collections.abc import Iterator
from typing import Any, Literal

import httpx
import pytest
from sqlalchemy import func, select, update
from statsmodels.stats.multitest import multipletests

from judge_service.app import create_app
from judge_service.background import BackgroundServer
from judge_service.config import Settings
from judge_service.dashboard.views import PairImage, pair_images
from judge_service.db.engine import session_factory
from judge_service.db.models import Judgment, JudgmentStatus, Run
from judge_service.demo.sample import sample_pairs
from judge_service.tables import usd
from tests.api.plans import B, C, apply_plan, random_plan
from tests.conftest import create_run

S, A = "sim", "sim-anthropic"
PIXEL = (  # a 1x1 PNG
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


def _page(api: httpx.Client, path: str, **params: Any) -> str:
    response = api.get(path, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    return response.text


def _attrs(html: str, name: str) -> list[str]:
    return re.findall(rf'{name}="([^"]*)"', html)


@pytest.fixture(scope="module")
def judged_run(pg_api: httpx.Client, pg_url: str) -> dict[str, Any]:
    """120 pairs, two judges, verdicts planned (flips, failures); 20 left unjudged."""
    run = create_run(pg_api, [S, A], candidate="tuned-dash", baseline="base-dash")
    pairs = sample_pairs(140)
    response = pg_api.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": pairs})
    assert response.status_code == 202
    plan = random_plan(120, seed=21)
    apply_plan(pg_url, run["id"], plan)
    items = pg_api.get(f"/v1/runs/{run['id']}/pairs", params={"limit": 1000}).json()["items"]
    return {"run": run, "items": items, "pairs": pairs}


def test_run_page_shows_the_stats_api_figures(
    pg_api: httpx.Client, judged_run: dict[str, Any]
) -> None:
    run_id = judged_run["run"]["id"]
    stats = pg_api.get(f"/v1/runs/{run_id}/stats").json()
    html = _page(pg_api, f"/runs/{run_id}")
    (rate,) = _attrs(html, 'data-testid="headline-rate" data-value')
    assert float(rate) == stats["win_rate"]
    assert f"{100 * stats['win_rate']:.1f}%" in html
    low, high = stats["win_rate_ci"]
    assert f"{100 * low:.1f} - {100 * high:.1f}" in html
    # One stacked bar per judge and one for the panel; segments add up to the outcome counts.
    bars = re.findall(
        r'data-testid="stacked" data-name="([^"]+)" data-total="(\d+)">(.*?)</div>', html, re.S
    )
    assert [name for name, _, _ in bars] == [S, A, "panel"]
    for name, total, body in bars:
        figures = stats["panel"] if name == "panel" else stats["per_judge"][name]
        counts = dict(re.findall(r'data-kind="(\w+)" data-count="(\d+)"', body))
        assert {k: int(v) for k, v in counts.items()} == {
            k: figures[k] for k in ("wins", "ties", "inconsistent", "losses")
        }
        assert int(total) == figures["n"] == sum(map(int, counts.values()))
    # Progress: 120 of 140 pairs planned, a few of their calls failed.
    (finished,) = _attrs(html, "data-finished")
    run = pg_api.get(f"/v1/runs/{run_id}").json()
    counts = run["counts"]
    assert int(finished) == counts["judgments_done"] + counts["judgments_failed"]
    assert counts["judgments_expected"] == 140 * 2 * 2 > int(finished)
    assert 'data-status="running"' in html
    # Strata default to the modality key; each row's pair count is the API's.
    by_modality = pg_api.get(f"/v1/runs/{run_id}/stats", params={"by": "modality"}).json()
    shown = dict(
        re.findall(r'data-stratum="([^"]+)"><th>[^<]*</th><td class="r">([\d,]+)</td>', html)
    )
    assert shown == {k: f"{v['panel']['n']:,}" for k, v in by_modality["by_stratum"].items()}
    assert "SIMULATED" in html
    # No prices configured: tokens are shown, cost is not guessed, for each judge and in total.
    assert html.count('class="r">no price set</td>') == 2
    assert 'data-testid="cost">no price set<' in html
    # Nor the spend: unpriced calls store no cost, and the run is not shown as free.
    assert 'data-testid="spent">no price set<' in html and 'data-testid="budget"' not in html


def _sign_test_cells(html: str, attr: str) -> dict[str, dict[str, tuple[str, str | None]]]:
    """Per table row (`data-<attr>`): raw, Holm and BH cells as (data-p, data-survives)."""
    rows = re.findall(rf'<tr data-{attr}="([^"]+)">(.*?)</tr>', html, re.S)
    cell = r'data-testid="(sign-test|p-holm|p-bh)" data-p="([^"]*)"(?: data-survives="(\w+)")?'
    return {
        name: {kind: (p, survives or None) for kind, p, survives in re.findall(cell, body)}
        for name, body in rows
    }


def test_per_axis_and_per_stratum_tables_show_adjusted_sign_tests(
    pg_api: httpx.Client, pg_url: str
) -> None:
    """Holm and BH across each table's rows, as statsmodels computes them from the API's p."""
    run = create_run(pg_api, [S], rubric="reasoning-trace", scale="5-level")
    pairs = sample_pairs(20)
    for i, pair in enumerate(pairs):
        pair["metadata"] = {"site": "a" if i < 10 else "b"}
    assert pg_api.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": pairs}).status_code == 202
    # Pair i's verdict per axis: perception 17 wins of 20, knowledge even, rationale 14 of
    # 20, answer all ties (no sign test); overall 9 of 10 on site a, even on site b.
    axes = {
        "perception": lambda i: "candidate" if i < 17 else "baseline",
        "knowledge": lambda i: "candidate" if i % 2 else "baseline",
        "rationale": lambda i: "candidate" if i < 14 else "baseline",
        "answer": lambda i: "tie",
    }
    with session_factory(pg_url)() as session:
        rows = session.execute(
            select(Judgment.id, Judgment.pair_id).where(Judgment.run_id == run["id"])
        ).all()
        pair_order = sorted({pair_id for _, pair_id in rows})
        for judgment_id, pair_id in rows:
            i = pair_order.index(pair_id)
            overall = "candidate" if (i < 9 or 10 <= i < 15) else "baseline"
            session.execute(
                update(Judgment)
                .where(Judgment.id == judgment_id)
                .values(
                    status=JudgmentStatus.DONE,
                    verdict=overall,
                    axes={a: {"verdict": v(i), "strong": False} for a, v in axes.items()},
                )
            )
        session.commit()
    html = _page(pg_api, f"/runs/{run['id']}")

    def expected(p_values: dict[str, float | None]) -> dict[str, dict[str, tuple[str, str | None]]]:
        tested = [name for name, p in p_values.items() if p is not None]
        raw = [p_values[name] for name in tested]
        holm_reject, by_holm = multipletests(raw, alpha=0.05, method="holm")[:2]
        bh_reject, by_bh = multipletests(raw, alpha=0.05, method="fdr_bh")[:2]
        cells = {name: {k: ("", None) for k in ("p-holm", "p-bh")} for name in p_values}
        for i, name in enumerate(tested):
            cells[name]["p-holm"] = (str(by_holm[i]), "yes" if holm_reject[i] else "no")
            cells[name]["p-bh"] = (str(by_bh[i]), "yes" if bh_reject[i] else "no")
        for name, p in p_values.items():
            cells[name]["sign-test"] = ("" if p is None else str(p), None)
        return cells

    def as_floats(cells: dict[str, dict[str, tuple[str, str | None]]]) -> dict[str, Any]:
        return {
            name: {
                k: (pytest.approx(float(p), rel=1e-9) if p else None, s)
                for k, (p, s) in row.items()
            }
            for name, row in cells.items()
        }

    by_axis = {
        a: pg_api.get(f"/v1/runs/{run['id']}/stats", params={"axis": a}).json()["sign_test_p"]
        for a in axes
    }
    assert by_axis["answer"] is None and by_axis["perception"] < 0.05
    assert as_floats(_sign_test_cells(html, "axis")) == as_floats(expected(by_axis))
    strata = pg_api.get(f"/v1/runs/{run['id']}/stats", params={"by": "site"}).json()["by_stratum"]
    shown = _sign_test_cells(html, "stratum")
    assert as_floats(shown) == as_floats(
        expected({name: s["panel"]["sign_test_p"] for name, s in strata.items()})
    )
    # The API's own fields say the same; a survivor is starred, the note names the level.
    for name, s in strata.items():
        assert shown[name]["p-holm"][1] == ("yes" if s["significant_holm"] else "no")
    assert (
        html.count("★</span></strong>")
        == sum(
            row[k][1] == "yes"
            for table in (shown, _sign_test_cells(html, "axis"))
            for row in table.values()
            for k in ("p-holm", "p-bh")
        )
        > 0
    )
    assert "adjusted p is at most 0.05" in html


def test_live_fragment_is_the_run_body(pg_api: httpx.Client, judged_run: dict[str, Any]) -> None:
    run_id = judged_run["run"]["id"]
    fragment = _page(pg_api, f"/runs/{run_id}/live")
    assert fragment.lstrip().startswith('<div class="run-body" data-status="running">')
    assert "<html" not in fragment
    assert 'data-testid="headline-rate"' in fragment


def test_pair_browser_filters_agree_with_the_pairs_api(
    pg_api: httpx.Client, judged_run: dict[str, Any]
) -> None:
    run_id = judged_run["run"]["id"]
    items = judged_run["items"]
    modality = {p["external_id"]: p["metadata"]["modality"] for p in judged_run["pairs"]}

    def shown(**params: Any) -> list[int]:
        ids: list[int] = []
        page = 1
        while True:
            html = _page(pg_api, f"/runs/{run_id}/pairs", page=page, **params)
            (total,) = _attrs(html, 'data-testid="pair-total" data-total')
            ids += [int(i) for i in _attrs(html, "data-pair-id")]
            if 'rel="next"' not in html:
                assert len(ids) == int(total)
                return ids
            page += 1

    def expected(keep: Any) -> list[int]:
        return [item["pair_id"] for item in items if keep(item)]

    assert shown() == expected(lambda i: True)
    assert len(shown()) == 140  # three pages of 50
    losses = expected(lambda i: i["panel"] == "baseline")
    assert losses and shown(outcome="baseline") == losses
    flips = expected(lambda i: i["per_judge"][A] == "inconsistent")
    assert flips and shown(judge=A, outcome="inconsistent") == flips
    pending = expected(lambda i: i["panel"] is None)
    assert len(pending) >= 20 and shown(outcome="missing") == pending

    def disagree(item: dict[str, Any]) -> bool:
        decided = [o for o in item["per_judge"].values() if o is not None]
        return len(decided) >= 2 and len(set(decided)) > 1

    assert expected(disagree) and shown(disagree="true") == expected(disagree)
    ct_losses = expected(lambda i: i["panel"] == "baseline" and modality[i["external_id"]] == "CT")
    assert shown(outcome="baseline", key="modality", value="CT") == ct_losses
    assert shown(key="modality", value="no-such-value") == []


def test_user_text_is_escaped(pg_api: httpx.Client) -> None:
    run = create_run(pg_api, [S], name="<b>run</b>")
    hostile = "<script>alert('x')</script>"
    pair = {
        "external_id": "x<1>",
        "question": f"Q {hostile}",
        "baseline_trace": f"line one\n{hostile}",
        "candidate_trace": "line one\nsomething else",
        "metadata": {"modality": hostile},
        "image_urls": [PIXEL],
    }
    assert pg_api.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": [pair]}).status_code == 202
    (item,) = pg_api.get(f"/v1/runs/{run['id']}/pairs").json()["items"]
    for path in (
        "/",
        f"/runs/{run['id']}",
        f"/runs/{run['id']}/pairs",
        f"/pairs/{item['pair_id']}",
    ):
        html = _page(pg_api, path)
        assert "<script>alert" not in html and "<b>run</b>" not in html
    # Before any call, an unpriced judge's cost is unknown, not $0.
    assert 'data-testid="cost">no price set<' in _page(pg_api, f"/runs/{run['id']}")
    html = _page(pg_api, f"/pairs/{item['pair_id']}")
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert f'<img src="{PIXEL}"' in html
    # The line both traces share is marked as such; the differing ones are not.
    assert '<li value="1" class="shared"' in html
    assert html.count('class="shared"') == 2


def test_runs_page_newest_first_filtered_by_model(pg_api: httpx.Client) -> None:
    older = create_run(pg_api, [S], candidate="model-x", baseline="model-base")
    newer = create_run(pg_api, [S], candidate="model-y", baseline="model-base")
    ids = [int(i) for i in _attrs(_page(pg_api, "/"), "data-run-id")]
    assert ids == sorted(ids, reverse=True)
    assert ids.index(newer["id"]) < ids.index(older["id"])
    assert [int(i) for i in _attrs(_page(pg_api, "/", model="model-x"), "data-run-id")] == [
        older["id"]
    ]
    both = _attrs(_page(pg_api, "/", model="model-base"), "data-run-id")
    assert [int(i) for i in both] == [newer["id"], older["id"]]


def test_runs_page_win_rate_is_the_stats_api_one(
    pg_api: httpx.Client, judged_run: dict[str, Any]
) -> None:
    run_id = judged_run["run"]["id"]
    html = _page(pg_api, "/", model="tuned-dash")
    (row,) = re.findall(rf'<tr data-run-id="{run_id}">(.*?)</tr>', html, re.S)
    (rate,) = _attrs(row, 'data-testid="run-win-rate" data-value')
    assert float(rate) == pg_api.get(f"/v1/runs/{run_id}/stats").json()["win_rate"]


def test_blind_labelling_hides_judges_and_walks_the_label_queue(
    pg_api: httpx.Client, pg_url: str
) -> None:
    run = create_run(pg_api, [S, A])
    pairs = sample_pairs(3)
    assert pg_api.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": pairs}).status_code == 202
    # The queue samples a finished run only; without a name it asks for one first.
    early = pg_api.get(f"/runs/{run['id']}/label", params={"annotator": "ann"})
    assert early.status_code == 409 and "judge calls to make" in early.text
    verdicts = {S: {B: "candidate", C: "candidate"}, A: {B: "tie", C: "tie"}}
    apply_plan(pg_url, run["id"], {pair["external_id"]: verdicts for pair in pairs})
    unnamed = pg_api.get(f"/runs/{run['id']}/label")
    assert unnamed.status_code == 200 and 'name="annotator"' in unnamed.text
    ids = [i["pair_id"] for i in pg_api.get(f"/v1/runs/{run['id']}/pairs").json()["items"]]
    seen = set()
    for _ in range(3):
        response = pg_api.get(f"/runs/{run['id']}/label", params={"annotator": "ann"})
        assert response.status_code == 303
        pair_id = int(re.fullmatch(r"/pairs/(\d+)\?blind=true", response.headers["location"])[1])
        assert pair_id in ids and pair_id not in seen
        seen.add(pair_id)
        html = _page(pg_api, f"/pairs/{pair_id}", blind="true")
        assert "Response A" in html and "Response B" in html
        assert "Verdicts" not in html and "tuned" not in html
        label = pg_api.post(
            f"/v1/pairs/{pair_id}/human-labels", json={"label": "tie", "annotator": "ann"}
        )
        assert label.status_code == 201
    done = pg_api.get(f"/runs/{run['id']}/label", params={"annotator": "ann"})
    assert done.status_code == 303 and done.headers["location"].endswith("?human=labelled")
    # Another annotator still has the whole run to label.
    assert pg_api.get(f"/runs/{run['id']}/label", params={"annotator": "bob"}).status_code == 303
    html = _page(pg_api, f"/runs/{run['id']}/pairs", human="labelled")
    assert sorted(int(i) for i in _attrs(html, "data-pair-id")) == sorted(ids)


def test_leaderboard_page_shows_the_api_scores(pg_api: httpx.Client, pg_url: str) -> None:
    first = create_run(pg_api, [S], candidate="lb-v1", baseline="lb-base")
    second = create_run(pg_api, [S], candidate="lb-v2", baseline="lb-base")
    for run, seed in ((first, 1), (second, 2)):
        pairs = sample_pairs(40)
        assert pg_api.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": pairs}).status_code == 202
        plan = {k: {S: v[S]} for k, v in random_plan(40, seed=seed, judges=(S,)).items()}
        apply_plan(pg_url, run["id"], plan)
    ids = [first["id"], second["id"]]
    board = pg_api.get("/v1/leaderboard", params={"runs": f"{ids[0]},{ids[1]}"}).json()
    html = _page(pg_api, "/leaderboard", runs=ids)
    assert _attrs(html, "data-model") == [m["model"] for m in board["models"]]
    for model in board["models"]:
        assert f"{model['score']:.2f}" in html
    unlinked = create_run(pg_api, [S], candidate="lb-other", baseline="lb-else")
    pairs = sample_pairs(5)
    assert pg_api.post(f"/v1/runs/{unlinked['id']}/pairs", json={"pairs": pairs}).status_code == 202
    plan = {k: {S: v[S]} for k, v in random_plan(5, seed=3, judges=(S,)).items()}
    apply_plan(pg_url, unlinked["id"], plan)
    html = _page(pg_api, "/leaderboard", runs=[*ids, unlinked["id"]])
    assert 'role="alert"' in html and 'data-testid="leaderboard"' not in html


def test_leaderboard_page_lists_a_sweeping_model_as_unbounded(
    pg_api: httpx.Client, pg_url: str
) -> None:
    ids = []
    mixed = ["candidate", "baseline", "candidate", "candidate", "baseline"]
    for candidate, results in (("lbu-v1", mixed), ("lbu-v2", ["candidate"] * 6)):
        run = create_run(pg_api, [S], candidate=candidate, baseline="lbu-base")
        pairs = sample_pairs(len(results))
        assert pg_api.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": pairs}).status_code == 202
        plan = {p["external_id"]: {S: {B: r, C: r}} for p, r in zip(pairs, results, strict=True)}
        apply_plan(pg_url, run["id"], plan)
        ids.append(run["id"])
    board = pg_api.get("/v1/leaderboard", params={"runs": f"{ids[0]},{ids[1]}"}).json()
    html = _page(pg_api, "/leaderboard", runs=ids)
    assert _attrs(html, "data-model") == [m["model"] for m in board["models"]]
    assert board["models"][0]["model"] == "lbu-v2"
    row = re.search(r'<tr data-model="lbu-v2">.*?</tr>', html, re.S)
    assert row and "unbounded: won every comparison" in row.group(0)
    assert 'data-unbounded="+inf"' in row.group(0) and "data-left" not in row.group(0)
    for model in board["models"][1:]:
        assert f"{model['score']:.2f}" in html
    assert "style=" not in html and "<script>" not in html


def test_missing_things_are_404(pg_api: httpx.Client) -> None:
    for path in ("/runs/999999", "/runs/999999/pairs", "/pairs/999999", "/runs/999999/live"):
        assert pg_api.get(path).status_code == 404


def test_pages_load_nothing_from_other_hosts(pg_api: httpx.Client) -> None:
    html = _page(pg_api, "/")
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets and all(not re.match(r"(https?:)?//", url) for url in assets)
    for asset in ("/static/dashboard.js", "/static/dashboard.css"):
        assert pg_api.get(asset).status_code == 200
    assert all(
        not path.startswith(("/runs", "/pairs", "/leaderboard"))
        for path in pg_api.get("/openapi.json").json()["paths"]
    )


@pytest.fixture
def priced_api(pg_settings: Settings) -> Iterator[httpx.Client]:
    """The API on the session's database with its judges priced ($2.5 / $10 per M tokens)."""
    judges = {
        name: config.model_copy(update={"input_usd_per_mtok": 2.5, "output_usd_per_mtok": 10.0})
        for name, config in pg_settings.judges.items()
    }
    priced = Settings(
        database_url=pg_settings.database_url,
        redis_url=pg_settings.redis_url,
        queue_name=pg_settings.queue_name,
        judges=judges,
    )
    with (
        BackgroundServer(create_app(priced)) as server,
        httpx.Client(base_url=server.url, timeout=30) as api,
    ):
        yield api


def _judged_in_one_order(
    api: httpx.Client, pg_url: str, run: dict[str, Any], pairs: list[dict[str, Any]], judged: int
) -> None:
    """Upload `pairs`; the first `judged` get a done baseline-first judgment, the rest wait."""
    assert api.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": pairs}).status_code == 202
    plan = {p["external_id"]: {S: {"baseline_first": "tie"}} for p in pairs[:judged]}
    apply_plan(pg_url, run["id"], plan)


def _set_done(pg_url: str, run_id: int, **values: Any) -> None:
    """Write what a worker stores with each done judgment (tokens, cost) into the run's rows,
    and the run's spend as the worker keeps it: the sum of its judgments' costs."""
    with session_factory(pg_url)() as session:
        session.execute(
            update(Judgment)
            .where(Judgment.run_id == run_id, Judgment.status == "done")
            .values(**values)
        )
        costs = select(func.coalesce(func.sum(Judgment.cost_usd), 0.0)).where(
            Judgment.run_id == run_id
        )
        session.execute(
            update(Run).where(Run.id == run_id).values(spent_usd=costs.scalar_subquery())
        )
        session.commit()


def test_cost_is_tokens_at_the_configured_prices(priced_api: httpx.Client, pg_url: str) -> None:
    run = create_run(priced_api, [S])
    _judged_in_one_order(priced_api, pg_url, run, sample_pairs(4), judged=4)
    _set_done(pg_url, run["id"], input_tokens=100_000, output_tokens=20_000)
    # 4 calls x (0.1 M x $2.5 + 0.02 M x $10) = 4 x $0.45 = $1.80
    html = _page(priced_api, f"/runs/{run['id']}")
    (cost,) = re.findall(r'data-testid="cost">([^<]+)<', html)
    assert cost == "$1.80"
    assert "$1.80" in _page(priced_api, "/", model="tuned")


def test_spend_and_budget_are_the_run_api_ones(priced_api: httpx.Client, pg_url: str) -> None:
    """A run whose stored spend reached its budget reads as such; one under it does not."""
    pairs = sample_pairs(4)
    reached = create_run(priced_api, [S], candidate="budget-dash", budget_usd=0.01)
    under = create_run(priced_api, [S], candidate="budget-dash", budget_usd=5)
    for run, cost in ((reached, 0.006), (under, 0.25)):
        _judged_in_one_order(priced_api, pg_url, run, pairs, judged=2)  # 2 of 8 calls done
        _set_done(pg_url, run["id"], cost_usd=cost)
    runs = {run["id"]: priced_api.get(f"/v1/runs/{run['id']}").json() for run in (reached, under)}
    assert [r["status"] for r in runs.values()] == ["budget_exhausted", "running"]
    listed = _page(priced_api, "/", model="budget-dash")
    for run_id, run in runs.items():
        page = _page(priced_api, f"/runs/{run_id}")
        (row,) = re.findall(rf'<tr data-run-id="{run_id}">(.*?)</tr>', listed, re.S)
        for html in (page, row):
            (spent,) = _attrs(html, 'data-testid="spend" data-spent')
            assert float(spent) == run["spent_usd"] > 0
            assert re.findall(r'data-testid="spent">([^<]+)<', html) == [usd(run["spent_usd"])]
            assert re.findall(r'data-testid="budget">([^<]+)<', html) == [usd(run["budget_usd"])]
            reached_shown = "budget reached, raise it to resume" in html
            assert reached_shown == (run["status"] == "budget_exhausted")
    html = _page(priced_api, f"/runs/{reached['id']}")
    assert "budget reached: 2 of 8 judge calls finished" in html
    assert f"<code>PATCH /v1/runs/{reached['id']}</code>" in html
    assert "budget_exhausted" not in html.replace('data-status="budget_exhausted"', "")


def test_hostile_query_values_are_never_a_server_error(
    pg_api: httpx.Client, judged_run: dict[str, Any]
) -> None:
    run_id = judged_run["run"]["id"]
    pair_id = judged_run["items"][0]["pair_id"]
    huge = str(10**20)
    cases = {
        f"/runs/{huge}": 422,  # as the API answers an id past BIGINT
        f"/runs/{huge}/pairs": 422,
        f"/pairs/{huge}": 422,
        f"/?before={huge}": 422,
        "/?model=a%00b": 422,
        f"/runs/{run_id}?by=%00": 200,
        f"/runs/{run_id}/pairs?page={huge}": 200,
        f"/runs/{run_id}/pairs?judge=%00&outcome=%00&key=%00&value=%00&human=%00": 200,
        f"/runs/{run_id}/label?annotator=a%00b": 422,
        f"/leaderboard?runs={huge}": 422,
        f"/pairs/{pair_id}?blind=maybe": 422,
    }
    for path, status in cases.items():
        response = pg_api.get(path, follow_redirects=False)
        assert response.status_code == status, (path, response.status_code, response.text[:300])


@pytest.mark.parametrize(
    ("url", "allowed", "shown"),
    [
        (PIXEL, [], "image"),
        ("https://img.example.org/a.png", [], "link"),
        ("https://img.example.org/a.png", ["img.example.org"], "image"),
        ("https://IMG.example.org?x", ["img.example.org"], "image"),
        ("https://img.example.org:443/a.png", ["img.example.org"], "image"),
        ("https://img.example.org/a.png", ["img.example.org:443"], "image"),
        ("https://img.example.org:8443/a.png", ["img.example.org"], "link"),
        ("https://img.example.org:8443/a.png", ["img.example.org:8443"], "image"),
        ("https://img.example.org.evil.example/a.png", ["img.example.org"], "link"),
        ("https://img.example.org@evil.example/a.png", ["img.example.org"], "link"),
        ("https://evil.example\\@img.example.org/a.png", ["img.example.org"], "link"),
        ("https://img%2Eexample.org/a.png", ["img.example.org"], "link"),
        ("javascript:alert(1)", ["img.example.org"], "text"),
        ("http://img.example.org/a.png", ["img.example.org"], "text"),
    ],
)
def test_pair_images_draws_only_data_and_allowed_hosts(
    url: str, allowed: list[str], shown: Literal["image", "link", "text"]
) -> None:
    assert pair_images([url], allowed) == [PairImage(url, shown)]


def test_pages_carry_no_inline_script_or_style(
    pg_api: httpx.Client, judged_run: dict[str, Any]
) -> None:
    """The Content-Security-Policy blocks inline script, handlers and style: pages use none.

    Bars keep their geometry in data- attributes that the script applies.
    """
    run_id = judged_run["run"]["id"]
    pair_id = judged_run["items"][0]["pair_id"]
    pages: list[tuple[str, dict[str, Any]]] = [
        ("/", {}),
        (f"/runs/{run_id}", {}),
        (f"/runs/{run_id}/live", {}),
        (f"/runs/{run_id}/pairs", {}),
        (f"/pairs/{pair_id}", {}),
        ("/leaderboard", {"runs": run_id}),
        ("/login", {}),
    ]
    for path, params in pages:
        html = _page(pg_api, path, **params)
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), path
        assert not re.search(r"<style|\sstyle=|\son[a-z]+=|javascript:", html, re.I), path
    run_page = _page(pg_api, f"/runs/{run_id}")
    assert "data-autosubmit" in run_page and 'class="kappa" data-shade="' in run_page
    assert re.search(
        r'class="seg wins" data-kind="wins" data-count="\d+" data-width="[\d.]+%"', run_page
    )
    board = _page(pg_api, "/leaderboard", runs=run_id)
    assert 'data-testid="leaderboard"' in board
    assert re.search(
        r'class="ci" data-left="[\d.]+%" data-width="calc\([\d.]+% - [\d.]+%\)"', board
    )
