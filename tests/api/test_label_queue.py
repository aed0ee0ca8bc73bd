"""The label queue and the calibrated win rate, through the API on PostgreSQL.

The expected calibrated figure is recomputed here by the reference implementation
(`ppi_py`) from the draws stored in the database, never read back from the code under test.
"""

import io
from typing import Any

import httpx
import numpy as np
import ppi_py
import pytest
from rich.console import Console
from sqlalchemy import select

from judge_service.client._results import Stats
from judge_service.db.engine import session_factory
from judge_service.db.models import LabelDraw
from judge_service.demo.sample import sample_pairs
from judge_service.tables import calibrated_part, ci_range, pct
from tests.api.plans import apply_plan, random_plan
from tests.conftest import create_run

S, A = "sim", "sim-anthropic"
Z95 = 1.959963984540054
CREDIT = {"candidate": 1.0, "tie": 0.5, "baseline": 0.0, "inconsistent": 0.5}


def _judged_run(api: httpx.Client, pg_url: str, n: int, seed: int) -> tuple[int, dict[int, str]]:
    """A run of two judges with every verdict written; each pair's people label, by pair id."""
    run = create_run(api, [S, A])
    pairs = sample_pairs(n)
    for pair in pairs:
        pair["metadata"] = {"half": "first" if int(pair["external_id"][-3:]) % 2 else "second"}
    assert api.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": pairs}).status_code == 202
    plan = random_plan(n, seed=seed)
    apply_plan(pg_url, run["id"], plan)
    items = api.get(f"/v1/runs/{run['id']}/pairs", params={"limit": 1000}).json()["items"]
    rng = np.random.default_rng(seed)
    truth = {
        item["pair_id"]: str(rng.choice(["candidate", "baseline", "tie"], p=[0.7, 0.2, 0.1]))
        for item in items
    }
    return run["id"], truth


def _queue(api: httpx.Client, run_id: int, **params: Any) -> httpx.Response:
    return api.get(f"/v1/runs/{run_id}/label-queue", params=params)


def _label(api: httpx.Client, pair_id: int, label: str, annotator: str) -> dict[str, Any]:
    response = api.post(
        f"/v1/pairs/{pair_id}/human-labels", json={"label": label, "annotator": annotator}
    )
    assert response.status_code in (200, 201), response.text
    return response.json()


def test_a_pending_run_is_not_sampled(pg_api: httpx.Client) -> None:
    run = create_run(pg_api, [S])
    pg_api.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": sample_pairs(3)})
    refused = _queue(pg_api, run["id"], annotator="dr-a")
    assert refused.status_code == 409 and "judge calls to make" in refused.json()["detail"]


def test_bad_queue_requests_name_the_field(pg_api: httpx.Client, pg_url: str) -> None:
    run_id, _ = _judged_run(pg_api, pg_url, 20, seed=1)
    missing = _queue(pg_api, run_id)
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["query", "annotator"]
    for params, field in (({"strategy": "greedy"}, "strategy"), ({"n": 0}, "n")):
        bad = _queue(pg_api, run_id, annotator="dr-a", **params)
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", field]
    assert _queue(pg_api, 987654321, annotator="dr-a").status_code == 404


def test_queue_labels_calibrate_the_win_rate_as_the_reference_does(
    pg_api: httpx.Client, pg_url: str
) -> None:
    run_id, truth = _judged_run(pg_api, pg_url, 160, seed=2)
    first = _queue(pg_api, run_id, annotator="dr-a", n=50, strategy="uniform").json()
    assert len(set(first["pair_ids"])) == 50 and first["draws"] >= 50
    # Asking again hands back the same unlabelled pairs and draws nothing new.
    again = _queue(pg_api, run_id, annotator="dr-a", n=50).json()
    assert again["pair_ids"] == first["pair_ids"] and again["draws"] == 0

    labelled = [_label(pg_api, pair_id, truth[pair_id], "dr-a") for pair_id in first["pair_ids"]]
    assert {label["source"] for label in labelled} == {"queue"}
    ad_hoc_pair = next(p for p in truth if p not in first["pair_ids"])
    assert _label(pg_api, ad_hoc_pair, "baseline", "dr-b")["source"] == "ad_hoc"

    stats = pg_api.get(f"/v1/runs/{run_id}/stats").json()
    items = pg_api.get(f"/v1/runs/{run_id}/pairs", params={"limit": 1000}).json()["items"]
    decided = {i["pair_id"]: i["panel"] for i in items if i["panel"] is not None}
    with session_factory(pg_url)() as session:
        draws = session.execute(
            select(LabelDraw.pair_id, LabelDraw.probability, LabelDraw.population)
            .where(LabelDraw.run_id == run_id)
            .order_by(LabelDraw.id)
        ).all()
    assert {population for _, _, population in draws} == {len(decided)}
    assert all(q == pytest.approx(1 / len(decided)) for _, q, _ in draws)
    y = np.array([CREDIT[truth[pair_id]] for pair_id, _, _ in draws])
    f = np.array([CREDIT[decided[pair_id]] for pair_id, _, _ in draws])
    f_all = np.array([CREDIT[outcome] for outcome in decided.values()])
    # The judge's weight minimises the draws' variance; the interval is ppi_py's draws term
    # plus var(Y) / N, as the labels come from the judged pairs (stats/calibrated.py).
    lam = float(np.clip(np.cov(y, f, ddof=0)[0, 1] / f.var(), 0, 1))

    def expected(at: float) -> list[float]:
        low, high = (float(b[0]) for b in ppi_py.ppi_mean_ci(y, f, f_all, alpha=0.05, lam=at))
        draws = ((high - low) / (2 * Z95)) ** 2 - at**2 * f_all.var() / f_all.size
        half = Z95 * np.sqrt(draws + y.var() / f_all.size)
        centre = float(ppi_py.ppi_mean_pointestimate(y, f, f_all, lam=at)[0])
        return [max(0.0, centre - half), min(1.0, centre + half)]

    calibrated = stats["panel"]["calibrated"]
    assert calibrated["labels_used"] == len(draws)
    assert calibrated["excluded_reasons"] == {"ad_hoc": 1}
    assert calibrated["population"] == len(decided) and calibrated["draws_waiting"] == 0
    assert calibrated["lam"] == pytest.approx(lam)
    assert calibrated["ci"] == pytest.approx(expected(lam))
    assert calibrated["human_only_ci"] == pytest.approx(expected(0.0))
    assert stats["calibrated"] == calibrated  # the top level repeats the panel
    for judge in (S, A):
        assert stats["per_judge"][judge]["calibrated"]["labels_used"] == len(draws)

    # The terminal table and the client's frame show the same figure.
    console = Console(width=200, file=io.StringIO(), color_system=None)
    console.print(calibrated_part(stats))
    shown = console.file.getvalue()
    assert pct(calibrated["estimate"]) in shown and ci_range(calibrated["ci"]) in shown
    frame = Stats.from_dict(stats).to_frame()
    assert frame.loc["panel", "calibrated_estimate"] == calibrated["estimate"]
    assert frame.loc[S, "calibrated_ci_low"] == stats["per_judge"][S]["calibrated"]["ci"][0]

    strata = pg_api.get(f"/v1/runs/{run_id}/stats", params={"by": "half"}).json()["by_stratum"]
    assert sum(s["panel"]["calibrated"]["labels_used"] for s in strata.values()) == len(draws)


def test_an_axis_has_no_calibrated_figure(pg_api: httpx.Client) -> None:
    """People label the overall preference: it calibrates no single rubric axis."""
    run = create_run(pg_api, [S], rubric="reasoning-trace")
    stats = pg_api.get(f"/v1/runs/{run['id']}/stats", params={"axis": "perception"}).json()
    assert stats["axis"] == "perception" and stats["calibrated"] is None
    assert pg_api.get(f"/v1/runs/{run['id']}/stats").json()["calibrated"]["population"] == 0


def test_too_few_queue_labels_say_so(pg_api: httpx.Client, pg_url: str) -> None:
    run_id, truth = _judged_run(pg_api, pg_url, 40, seed=3)
    batch = _queue(pg_api, run_id, annotator="dr-a", n=5).json()
    for pair_id in batch["pair_ids"][:4]:
        _label(pg_api, pair_id, truth[pair_id], "dr-a")
    calibrated = pg_api.get(f"/v1/runs/{run_id}/stats").json()["calibrated"]
    assert calibrated["estimate"] is None and calibrated["draws_waiting"] == 1
    assert "needs 30" in calibrated["reason"]
    stats = pg_api.get(f"/v1/runs/{run_id}/stats").json()
    assert calibrated_part(stats) == f"calibrated win rate: none yet ({calibrated['reason']})"


def test_active_queue_favours_pairs_the_judges_were_unsure_of(
    pg_api: httpx.Client, pg_url: str
) -> None:
    run_id, _ = _judged_run(pg_api, pg_url, 120, seed=4)
    _queue(pg_api, run_id, annotator="dr-a", n=30, strategy="active")
    items = pg_api.get(f"/v1/runs/{run_id}/pairs", params={"limit": 1000}).json()["items"]
    sure = {
        i["pair_id"]
        for i in items
        if i["panel"] in ("candidate", "baseline") and len(set(i["per_judge"].values())) == 1
    }
    with session_factory(pg_url)() as session:
        draws = session.execute(
            select(LabelDraw.pair_id, LabelDraw.probability).where(LabelDraw.run_id == run_id)
        ).all()
    unsure_q = {q for pair_id, q in draws if pair_id not in sure}
    sure_q = {q for pair_id, q in draws if pair_id in sure}
    assert unsure_q and sure_q and min(unsure_q) > max(sure_q)
