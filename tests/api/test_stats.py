"""`GET /v1/runs/{id}/stats` and `GET /v1/leaderboard` on verdicts written into PostgreSQL.

Every expected figure is counted here from the plan, or computed by scipy / statsmodels
from the per-pair outcomes the API pages out, never read back from the code under test.
"""

from typing import Any

import httpx
import numpy as np
import pytest
from rich.table import Table
from scipy.stats import binomtest
from sqlalchemy import update
from statsmodels.stats.inter_rater import cohens_kappa
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from judge_service.db.engine import session_factory
from judge_service.db.models import Judgment, JudgmentStatus
from judge_service.demo.sample import sample_pairs
from judge_service.tables import p_value, report
from tests.api.plans import B, C, apply_plan, random_plan
from tests.conftest import create_run

S, A = "sim", "sim-anthropic"


def both(verdict: str) -> dict[str, str]:
    return {B: verdict, C: verdict}


def _post(api: httpx.Client, run_id: int, pairs: list[dict[str, Any]]) -> None:
    assert api.post(f"/v1/runs/{run_id}/pairs", json={"pairs": pairs}).status_code == 202


def _items(api: httpx.Client, run_id: int) -> list[dict[str, Any]]:
    page = api.get(f"/v1/runs/{run_id}/pairs", params={"limit": 1000}).json()
    assert page["next_after_id"] is None
    return page["items"]


def items_by_id(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["external_id"]: item for item in items}


def _stats(api: httpx.Client, run_id: int, **params: Any) -> dict[str, Any]:
    response = api.get(f"/v1/runs/{run_id}/stats", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_every_figure_against_an_independent_count(pg_api: httpx.Client, pg_url: str) -> None:
    run = create_run(pg_api, [S, A])
    pairs = sample_pairs(120)
    _post(pg_api, run["id"], pairs)
    plan = random_plan(len(pairs), seed=4)
    apply_plan(pg_url, run["id"], plan)
    items = _items(pg_api, run["id"])
    by_id = items_by_id(items)
    stats = _stats(pg_api, run["id"])

    for judge in (S, A):
        outcomes = [item["per_judge"][judge] for item in items]
        wins, losses = outcomes.count("candidate"), outcomes.count("baseline")
        n = len(outcomes) - outcomes.count(None)
        figures = stats["per_judge"][judge]
        assert (figures["n"], figures["wins"], figures["losses"]) == (n, wins, losses)
        assert figures["missing"] == outcomes.count(None)
        assert figures["missing_reasons"] == {"provider_error": outcomes.count(None)}
        assert figures["sign_test_p"] == pytest.approx(binomtest(wins, wins + losses).pvalue)
        assert figures["decisive_win_rate"] == pytest.approx(wins / (wins + losses))
        low, high = proportion_confint(wins, wins + losses, method="wilson")
        assert figures["decisive_win_rate_ci"] == pytest.approx([low, high])
        assert figures["preferred_rate"] == pytest.approx(wins / n)
        # Order level, on the pairs with an outcome: every verdict a game (3-way: none strong).
        judged = [key for key, item in by_id.items() if item["per_judge"][judge]]
        games = [v for key in judged for v in plan[key][judge].values()]
        assert figures["order_level"]["games"] == len(games)
        order_wins = games.count("candidate") + games.count("tie") / 2
        assert figures["order_level"]["win_rate"] == pytest.approx(order_wins / len(games))
        # A judge that names slot A says "baseline" first and "candidate" second.
        decisive = [
            (order, v)
            for key in judged
            for order, v in plan[key][judge].items()
            if v in ("candidate", "baseline")
        ]
        first = sum((o == B) == (v == "baseline") for o, v in decisive)
        assert figures["first_slot_n"] == len(decisive)
        assert figures["first_slot_rate"] == pytest.approx(first / len(decisive))

    # Panel = the top level; agreement between the two judges is Cohen's kappa (statsmodels).
    assert stats["n"] == stats["panel"]["n"] and stats["wins"] == stats["panel"]["wins"]
    both_judged = [
        (i["per_judge"][S], i["per_judge"][A])
        for i in items
        if i["per_judge"][S] and i["per_judge"][A]
    ]
    codes = ("candidate", "baseline", "tie", "inconsistent")
    table = np.zeros((4, 4))
    for a, b in both_judged:
        table[codes.index(a), codes.index(b)] += 1
    (pair,) = stats["agreement"]["pairs"]
    assert (pair["judge_a"], pair["judge_b"], pair["n"]) == (S, A, len(both_judged))
    assert pair["agreement"] == pytest.approx(np.trace(table) / len(both_judged))
    assert pair["kappa"] == pytest.approx(cohens_kappa(table, return_results=False))
    assert stats["human"] is None and stats["by_stratum"] is None
    assert (stats["bootstrap_rounds"], stats["seed"], stats["confidence"]) == (1000, 0, 0.95)


def test_bootstrap_is_seeded_and_configurable(pg_api: httpx.Client, pg_url: str) -> None:
    run = create_run(pg_api, [S])
    _post(pg_api, run["id"], sample_pairs(60))
    apply_plan(pg_url, run["id"], {k: {S: v[S]} for k, v in random_plan(60, seed=5).items()})
    one = _stats(pg_api, run["id"], seed=3)["win_rate_bootstrap_ci"]
    assert one == _stats(pg_api, run["id"], seed=3)["win_rate_bootstrap_ci"]
    assert one != _stats(pg_api, run["id"], seed=4)["win_rate_bootstrap_ci"]
    none = _stats(pg_api, run["id"], bootstrap_rounds=0)
    assert none["win_rate_bootstrap_ci"] is None and none["win_rate_ci"] is not None
    wide = _stats(pg_api, run["id"], confidence=0.99)["win_rate_ci"]
    narrow = _stats(pg_api, run["id"], confidence=0.9)["win_rate_ci"]
    assert wide[0] < narrow[0] and narrow[1] < wide[1]
    too_many = pg_api.get(f"/v1/runs/{run['id']}/stats", params={"bootstrap_rounds": 10**6})
    assert too_many.status_code == 422
    assert too_many.json()["detail"][0]["loc"] == ["query", "bootstrap_rounds"]


def test_by_metadata_key_gives_every_figure_per_stratum(pg_api: httpx.Client, pg_url: str) -> None:
    run = create_run(pg_api, [S, A])
    pairs = sample_pairs(40)
    for i, pair in enumerate(pairs):
        pair["metadata"] = {"modality": "CT" if i % 3 else "MRI"} if i < 36 else {}
    _post(pg_api, run["id"], pairs)
    apply_plan(pg_url, run["id"], random_plan(40, seed=6))
    items = items_by_id(_items(pg_api, run["id"]))
    stats = _stats(pg_api, run["id"], by="modality")
    assert stats["by"] == "modality"
    strata = stats["by_stratum"]
    assert set(strata) == {"CT", "MRI", "(none)"}
    for name, members in (
        ("MRI", [p for i, p in enumerate(pairs) if i < 36 and i % 3 == 0]),
        ("CT", [p for i, p in enumerate(pairs) if i < 36 and i % 3]),
        ("(none)", pairs[36:]),
    ):
        panels = [items[p["external_id"]]["panel"] for p in members]
        figures = strata[name]["panel"]
        assert figures["wins"] == panels.count("candidate"), name
        assert figures["losses"] == panels.count("baseline"), name
        assert figures["missing"] == panels.count(None), name
        for judge in (S, A):
            outcomes = [items[p["external_id"]]["per_judge"][judge] for p in members]
            assert strata[name]["per_judge"][judge]["wins"] == outcomes.count("candidate")
    # Strata partition the run.
    assert sum(s["panel"]["n"] for s in strata.values()) == stats["n"]

    typo = pg_api.get(f"/v1/runs/{run['id']}/stats", params={"by": "modalty"})
    assert typo.status_code == 422
    assert typo.json()["detail"][0]["loc"] == ["query", "by"]
    assert "modalty" in typo.json()["detail"][0]["msg"]
    # Keys are data, never SQL: quotes and JSON-path characters are just characters.
    quoted = create_run(pg_api, [S])
    odd_key = "it's {a,b} 100%"
    _post(pg_api, quoted["id"], [{**sample_pairs(1)[0], "metadata": {odd_key: "yes"}}])
    strata = _stats(pg_api, quoted["id"], by=odd_key)["by_stratum"]
    assert list(strata) == ["yes"] and strata["yes"]["panel"]["missing"] == 1
    for key in ("x' OR '1'='1", 'a"b', "$.x"):
        odd = pg_api.get(f"/v1/runs/{quoted['id']}/stats", params={"by": key})
        assert odd.status_code == 422 and odd.json()["detail"][0]["loc"] == ["query", "by"]
    empty = pg_api.get(f"/v1/runs/{run['id']}/stats", params={"by": ""})
    assert empty.json()["detail"][0]["loc"] == ["query", "by"]


def test_strata_sign_tests_are_adjusted_across_the_strata(
    pg_api: httpx.Client, pg_url: str
) -> None:
    """Holm and BH over the strata's panel sign tests; a stratum of ties is not in the family."""
    run = create_run(pg_api, [S, A])
    # Per site: candidate wins, baseline wins, ties (both judges, both orders agree).
    sites = {"a": (9, 1, 0), "b": (5, 5, 0), "c": (6, 4, 1), "d": (0, 0, 3)}
    pairs = sample_pairs(sum(map(sum, sites.values())))
    verdicts = [
        (site, verdict)
        for site, counts in sites.items()
        for verdict, k in zip(("candidate", "baseline", "tie"), counts, strict=True)
        for _ in range(k)
    ]
    for pair, (site, _) in zip(pairs, verdicts, strict=True):
        pair["metadata"] = {"site": site}
    _post(pg_api, run["id"], pairs)
    plan = {
        p["external_id"]: {S: both(v), A: both(v)}
        for p, (_, v) in zip(pairs, verdicts, strict=True)
    }
    apply_plan(pg_url, run["id"], plan)
    tested = ["a", "b", "c"]
    raw = [binomtest(sites[s][0], sites[s][0] + sites[s][1]).pvalue for s in tested]
    for confidence in (0.95, 0.9):
        strata = _stats(pg_api, run["id"], by="site", confidence=confidence)["by_stratum"]
        alpha = 1 - confidence
        holm_reject, by_holm = multipletests(raw, alpha=alpha, method="holm")[:2]
        bh_reject, by_bh = multipletests(raw, alpha=alpha, method="fdr_bh")[:2]
        for i, site in enumerate(tested):
            row = strata[site]
            assert row["panel"]["sign_test_p"] == pytest.approx(raw[i], rel=1e-12)
            assert row["sign_test_p_holm"] == pytest.approx(by_holm[i], rel=1e-12), site
            assert row["sign_test_p_bh"] == pytest.approx(by_bh[i], rel=1e-12), site
            assert row["significant_holm"] == holm_reject[i], site
            assert row["significant_bh"] == bh_reject[i], site
        assert {k: strata["d"][k] for k in ("sign_test_p_holm", "significant_bh")} == {
            "sign_test_p_holm": None,
            "significant_bh": None,
        }
    # Significant alone, not once the other strata are counted.
    body = _stats(pg_api, run["id"], by="site")
    strong = body["by_stratum"]["a"]
    assert strong["panel"]["sign_test_p"] < 0.05 < strong["sign_test_p_holm"]
    assert strong["significant_holm"] is False
    # The terminal's strata table adds the adjusted columns.
    table = report(body)[-1]
    assert isinstance(table, Table)
    assert [column.header for column in table.columns][-2:] == ["Holm", "BH"]
    assert list(table.columns[-2].cells) == [
        p_value(body["by_stratum"][s]["sign_test_p_holm"])
        + (" *" if body["by_stratum"][s]["significant_holm"] else "")
        for s in body["by_stratum"]
    ]


def test_axis_figures_read_the_axis_verdicts(pg_api: httpx.Client, pg_url: str) -> None:
    run = create_run(pg_api, [S], rubric="reasoning-trace", scale="5-level")
    _post(pg_api, run["id"], sample_pairs(4))
    # Overall candidate everywhere; on "knowledge": 2 strong wins, a tie, one not judged.
    knowledge = [("candidate", True), ("candidate", True), ("tie", False), None]
    with session_factory(pg_url)() as session:
        rows = session.execute(
            Judgment.__table__.select()
            .with_only_columns(Judgment.id, Judgment.pair_id)
            .where(Judgment.run_id == run["id"])
            .order_by(Judgment.pair_id, Judgment.id)
        ).all()
        pair_order = sorted({pair_id for _, pair_id in rows})
        for judgment_id, pair_id in rows:
            axis = knowledge[pair_order.index(pair_id)]
            axes = {} if axis is None else {"knowledge": {"verdict": axis[0], "strong": axis[1]}}
            session.execute(
                update(Judgment)
                .where(Judgment.id == judgment_id)
                .values(status=JudgmentStatus.DONE, verdict="candidate", axes=axes)
            )
        session.commit()
    overall = _stats(pg_api, run["id"])
    assert (overall["wins"], overall["n"]) == (4, 4)
    axis = _stats(pg_api, run["id"], axis="knowledge")
    assert (axis["axis"], axis["wins"], axis["ties"], axis["n"]) == ("knowledge", 2, 1, 3)
    assert axis["missing_reasons"] == {"criterion_not_judged": 1}
    # Order level: 4 strong wins weighted 3 (the default strong_weight), 2 ties.
    assert axis["order_level"]["wins"] == 12 and axis["order_level"]["ties"] == 2
    assert axis["order_level"]["win_rate"] == pytest.approx(13 / 14)


def test_human_agreement_with_and_without_ties(pg_api: httpx.Client, pg_url: str) -> None:
    run = create_run(pg_api, [S])
    pairs = sample_pairs(4)
    _post(pg_api, run["id"], pairs)
    apply_plan(
        pg_url,
        run["id"],
        {
            "med-0001": {S: both("candidate")},
            "med-0002": {S: both("baseline")},
            "med-0003": {S: both("tie")},
            "med-0004": {S: {B: "candidate", C: "baseline"}},  # inconsistent: a tie
        },
    )
    ids = {i["external_id"]: i["pair_id"] for i in _items(pg_api, run["id"])}
    labels = {
        "med-0001": {"ann-1": "candidate", "ann-2": "candidate"},
        "med-0002": {"ann-1": "candidate", "ann-2": "baseline"},
        "med-0003": {"ann-1": "tie"},
        "med-0004": {"ann-2": "baseline"},
    }
    for external_id, by_annotator in labels.items():
        for annotator, label in by_annotator.items():
            response = pg_api.post(
                f"/v1/pairs/{ids[external_id]}/human-labels",
                json={"label": label, "annotator": annotator},
            )
            assert response.status_code == 201
    human = _stats(pg_api, run["id"])["human"]
    assert (human["labels"], human["pairs"], human["annotators"]) == (6, 4, 2)
    judge = human["per_judge"][S]
    # Judge vs each label: C/C yes, C/C yes, B/C no, B/B yes, T/T yes, T(incons.)/B no.
    assert (judge["agree_with_ties"], judge["n_with_ties"]) == (4, 6)
    # Without ties: drop votes where either side tied -> C/C, C/C, B/C, B/B.
    assert (judge["agree_without_ties"], judge["n_without_ties"]) == (3, 4)
    assert human["panel"] == judge
    # Human-human: the two pairs with two annotators; they agree on one.
    assert (human["human_human"]["agree_with_ties"], human["human_human"]["n_with_ties"]) == (1, 2)


def _judged_run(
    api: httpx.Client, pg_url: str, baseline: str, candidate: str, results: list[str]
) -> int:
    run = create_run(api, [S], baseline=baseline, candidate=candidate)
    pairs = sample_pairs(len(results))
    _post(api, run["id"], pairs)
    plan = {p["external_id"]: {S: both(r)} for p, r in zip(pairs, results, strict=True)}
    apply_plan(pg_url, run["id"], plan)
    return int(run["id"])


def test_leaderboard_fits_bradley_terry_across_runs(pg_api: httpx.Client, pg_url: str) -> None:
    v1 = _judged_run(pg_api, pg_url, "base", "v1", ["candidate"] * 14 + ["baseline"] * 6)
    v2 = _judged_run(pg_api, pg_url, "base", "v2", ["candidate"] * 17 + ["baseline"] * 3)
    v1_v2 = _judged_run(
        pg_api, pg_url, "v1", "v2", ["candidate"] * 11 + ["baseline"] * 7 + ["tie"] * 2
    )
    response = pg_api.get("/v1/leaderboard", params={"runs": f"{v1},{v2},{v1_v2}", "seed": 1})
    assert response.status_code == 200, response.text
    board = response.json()
    assert board["runs"] == sorted([v1, v2, v1_v2]) and board["battles"] == 60
    assert [m["model"] for m in board["models"]] == ["v2", "v1", "base"]
    for model in board["models"]:
        low, high = model["score_ci"]
        assert low <= model["score"] <= high
    rates = board["predicted_win_rates"]
    assert rates["v2"]["base"]["win_rate"] + rates["base"]["v2"]["win_rate"] == pytest.approx(1)
    assert 0.5 < rates["v1"]["base"]["win_rate"] < rates["v2"]["base"]["win_rate"]
    # With two models and one run, the fit reproduces the observed win rate.
    alone = pg_api.get("/v1/leaderboard", params={"runs": str(v1), "bootstrap_rounds": 0}).json()
    assert alone["predicted_win_rates"]["v1"]["base"]["win_rate"] == pytest.approx(0.7, abs=1e-5)
    anchored = pg_api.get("/v1/leaderboard", params={"runs": str(v1), "anchor": "base"}).json()
    assert {m["model"]: m["score"] for m in anchored["models"]}["base"] == 0


def test_leaderboard_reports_a_sweeping_model_as_unbounded(
    pg_api: httpx.Client, pg_url: str
) -> None:
    v1 = _judged_run(pg_api, pg_url, "ub-base", "ub-v1", ["candidate"] * 9 + ["baseline"] * 5)
    v2 = _judged_run(pg_api, pg_url, "ub-base", "ub-v2", ["candidate"] * 12)
    both_runs = pg_api.get("/v1/leaderboard", params={"runs": f"{v1},{v2}", "seed": 2})
    assert both_runs.status_code == 200, both_runs.text
    board = both_runs.json()
    alone = pg_api.get("/v1/leaderboard", params={"runs": str(v1), "seed": 2}).json()
    assert board["battles"] == 26
    top, *rest = board["models"]
    assert (top["model"], top["score"], top["score_ci"], top["elo"]) == ("ub-v2", None, None, None)
    assert (top["unbounded"], top["reason"]) == ("+inf", "won every comparison")
    # ub-base and ub-v1: the fit of run v1 alone, intervals included.
    assert rest == alone["models"]
    assert rest[0]["score"] == pytest.approx(np.log(9 / 5) / 2)
    rates = board["predicted_win_rates"]
    assert rates["ub-v2"]["ub-v1"] == {"win_rate": 1.0, "ci": None}
    assert rates["ub-base"]["ub-v2"] == {"win_rate": 0.0, "ci": None}
    assert rates["ub-v1"]["ub-base"] == alone["predicted_win_rates"]["ub-v1"]["ub-base"]
    anchored = pg_api.get("/v1/leaderboard", params={"runs": f"{v1},{v2}", "anchor": "ub-v2"})
    assert anchored.status_code == 422
    detail = anchored.json()["detail"][0]
    assert detail["loc"] == ["query", "anchor"] and "no finite score" in detail["msg"]


def test_leaderboard_refusals(pg_api: httpx.Client, pg_url: str) -> None:
    a = _judged_run(pg_api, pg_url, "m1", "m2", ["candidate", "baseline"])
    b = _judged_run(pg_api, pg_url, "m3", "m4", ["candidate", "tie"])
    pending = create_run(pg_api, [S], baseline="m5", candidate="m6")["id"]
    cases = {
        "1,x": ("runs", "comma-separated"),
        ",": ("runs", "at least one"),
        "987654321": ("runs", "987654321"),
        f"{a},{b}": ("runs", "chain"),
        str(pending): ("runs", "no judged pairs"),
    }
    for runs, (field, words) in cases.items():
        response = pg_api.get("/v1/leaderboard", params={"runs": runs})
        assert response.status_code == 422, runs
        detail = response.json()["detail"][0]
        assert detail["loc"] == ["query", field] and words in detail["msg"], (runs, detail)
    anchor = pg_api.get("/v1/leaderboard", params={"runs": str(a), "anchor": "nope"})
    assert anchor.json()["detail"][0]["loc"] == ["query", "anchor"]
    assert pg_api.get("/v1/leaderboard").json()["detail"][0]["loc"] == ["query", "runs"]


def test_length_controlled_rate_is_null_with_a_reason_and_shown_so(
    pg_api: httpx.Client, pg_url: str
) -> None:
    # Issue 22: a candidate always about twice as long leaves nothing at equal length.
    longer = sample_pairs(40)
    for pair in longer:
        pair["candidate_trace"] = pair["baseline_trace"] + "\n" + pair["baseline_trace"]
    run = create_run(pg_api, [S])
    _post(pg_api, run["id"], longer)
    apply_plan(pg_url, run["id"], {k: {S: v[S]} for k, v in random_plan(40, seed=2).items()})
    stats = _stats(pg_api, run["id"])
    assert stats["win_rate"] is not None and stats["win_rate_bootstrap_ci"] is not None
    for figures in (stats, stats["per_judge"][S]):
        assert figures["length_controlled_win_rate"] is None
        assert figures["length_controlled_win_rate_ci"] is None
        assert "only 0 of" in figures["length_controlled_reason"]
    page = pg_api.get(f"/runs/{run['id']}/live")
    assert page.status_code == 200
    assert 'data-testid="length-controlled-reason"' in page.text
    assert "only 0 of" in page.text
