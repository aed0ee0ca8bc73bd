"""`POST /v1/plan` on the real app and PostgreSQL: expected figures, a pilot run, bad input.

Expected numbers are worked out here from the formulas in docs/statistics.md ("Planning") and
from the verdicts, labels and tokens the tests write, never read back from the planner.
"""

import math
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from scipy.stats import norm
from sqlalchemy import update

from judge_service.app import create_app
from judge_service.background import BackgroundServer
from judge_service.config import Settings
from judge_service.db.engine import session_factory
from judge_service.db.models import Judgment
from judge_service.demo.sample import sample_pairs
from tests.api.plans import B, C, apply_plan
from tests.api.test_auth import client, new_key
from tests.conftest import create_run

PRICES = {"input_usd_per_mtok": 2.5, "output_usd_per_mtok": 10.0}


@pytest.fixture(scope="module")
def api(pg_settings: Settings) -> Iterator[httpx.Client]:
    """The API with `sim` priced and `sim-anthropic` not."""
    settings = Settings(
        database_url=pg_settings.database_url,
        redis_url=pg_settings.redis_url,
        queue_name=pg_settings.queue_name,
        judges={**pg_settings.judges, "sim": pg_settings.judges["sim"].model_copy(update=PRICES)},
    )
    with (
        BackgroundServer(create_app(settings)) as server,
        httpx.Client(base_url=server.url, timeout=30) as http,
    ):
        yield http


def _plan(api: httpx.Client, **body: Any) -> dict[str, Any]:
    response = api.post("/v1/plan", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def _fewest_labels(half_width: float, z: float, pairs: int, v: float, error: float) -> int:
    """A plain search over every label count for the calibrated variance to fit the target."""
    cov = v - error / 2
    lam = min(1.0, max(0.0, cov / v))
    for m in range(1, pairs + 1):
        variance = v / pairs + (v + lam**2 * v - 2 * lam * cov) / m
        if variance <= (half_width / z) ** 2:
            return max(m, 30)
    raise AssertionError("no label count reaches the target")


def test_a_plan_from_expected_figures(api: httpx.Client) -> None:
    plan = _plan(
        api,
        half_width=0.03,
        expected_win_rate=0.7,
        tie_share=0.2,
        judge_error=0.05,
        judges=["sim"],
        mean_prompt_tokens=1000,
        mean_output_tokens=200,
    )
    z = norm.ppf(0.975)
    v = 0.6 + 0.2 / 4 - 0.7**2  # w + h/4 - m²
    pairs = math.ceil(z**2 * v / 0.03**2)
    assert plan["pairs"] == pairs == 683
    assert plan["judge_calls"] == 2 * pairs  # both orders, one judge
    assert plan["tokens"] == {"input": 2 * pairs * 1000, "output": 2 * pairs * 200}
    assert plan["cost_usd"] == pytest.approx((2 * pairs * 1000 * 2.5 + 2 * pairs * 200 * 10) / 1e6)
    # The calibrated interval's pairs term takes a quarter of the budget: 4x the pairs.
    calibrated_pairs = math.ceil(v / (0.25 * (0.03 / z) ** 2))
    assert plan["labels_pairs"] == calibrated_pairs
    assert plan["labels"] == _fewest_labels(0.03, z, calibrated_pairs, v, 0.05) < pairs
    assert plan["enough_pairs"] is None
    facts = plan["assumptions"]
    assert facts["credit_variance"] == pytest.approx(v)
    assert (facts["judge_error"], facts["judge_error_source"]) == (0.05, "given")
    assert facts["judges"] == ["sim"] and facts["mean_prompt_tokens"] == {"sim": 1000}
    assert f"judge {pairs} pairs" in plan["summary"]
    assert f"it needs {calibrated_pairs:,} judged pairs, {plan['labels']}" in plan["summary"]


def test_defaults_every_judge_and_no_prompt_tokens(api: httpx.Client) -> None:
    plan = _plan(api, half_width=0.05, expected_win_rate=0.6, swap=False, pairs_available=100)
    facts = plan["assumptions"]
    assert facts["judges"] == ["sim", "sim-anthropic"]
    assert (facts["tie_share"], facts["judge_error"]) == (0.2, 0.15)
    assert facts["judge_error_source"] == "default"
    assert facts["mean_output_tokens"] == {"sim": 1024, "sim-anthropic": 1024}  # max_tokens
    assert plan["tokens"] is None and plan["cost_usd"] is None
    assert facts["tokens_source"] == "prompt: unknown; output: each judge's max_tokens"
    assert "give mean_prompt_tokens" in plan["summary"]
    v = 0.6 * 0.4 - 0.2 / 4
    assert plan["pairs"] == math.ceil(norm.ppf(0.975) ** 2 * v / 0.05**2)
    assert plan["judge_calls"] == plan["pairs"] * 2  # one order, two judges
    assert plan["enough_pairs"] is False and "100 pairs are not enough" in plan["summary"]
    # An unpriced judge: tokens known, cost not.
    unpriced = _plan(api, half_width=0.05, expected_win_rate=0.6, mean_prompt_tokens=500)
    assert unpriced["tokens"] is not None and unpriced["cost_usd"] is None


def _pilot(api: httpx.Client, pg_url: str, labels: int) -> tuple[int, dict[str, Any]]:
    """A finished one-judge run of 60 pairs: 30 wins, 6 ties, 6 inconsistent, 18 losses;
    `labels` of them labelled by a person; prompt 900 or 1,100 tokens a call, output 150."""
    run = create_run(api, ["sim"])
    pairs = sample_pairs(60)
    assert api.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": pairs}).status_code == 202
    kinds = ["win"] * 5 + ["tie", "inconsistent"] + ["loss"] * 3
    verdicts = {
        "win": ("candidate", "candidate"),
        "tie": ("tie", "tie"),
        "inconsistent": ("candidate", "baseline"),
        "loss": ("baseline", "baseline"),
    }
    credit = {"win": 1.0, "tie": 0.5, "inconsistent": 0.5, "loss": 0.0}
    plan, judged = {}, {}
    for i, pair in enumerate(pairs):
        kind = kinds[i % 10]
        first, second = verdicts[kind]
        plan[pair["external_id"]] = {"sim": {B: first, C: second}}
        judged[pair["external_id"]] = credit[kind]
    apply_plan(pg_url, run["id"], plan)
    with session_factory(pg_url)() as session:
        for order, prompt in ((B, 900), (C, 1100)):
            session.execute(
                update(Judgment)
                .where(Judgment.run_id == run["id"], Judgment.order == order)
                .values(input_tokens=prompt, output_tokens=150)
            )
        session.commit()
    # The person agrees on decisive pairs, except every third they call a tie; ties and
    # inconsistent pairs they call for the candidate.
    items = api.get(f"/v1/runs/{run['id']}/pairs", params={"limit": 1000}).json()["items"]
    errors = []
    for index, item in enumerate(items[:labels]):
        f = judged[item["external_id"]]
        if f == 0.5:
            label, y = "candidate", 1.0
        elif index % 3 == 0:
            label, y = "tie", 0.5
        else:
            label, y = ("candidate", 1.0) if f == 1.0 else ("baseline", 0.0)
        errors.append((f - y) ** 2)
        body = {"label": label, "annotator": "dr-a"}
        posted = api.post(f"/v1/pairs/{item['pair_id']}/human-labels", json=body)
        assert posted.status_code == 201, posted.text
    return run["id"], {"error": sum(errors) / len(errors) if errors else None}


def test_a_plan_from_a_pilot_run(api: httpx.Client, pg_url: str) -> None:
    run_id, expected = _pilot(api, pg_url, labels=40)
    plan = _plan(api, half_width=0.05, pilot_run_id=run_id)
    facts = plan["assumptions"]
    win_rate, halves = (30 + 0.5 * 12) / 60, 12 / 60
    assert facts["win_rate"] == pytest.approx(win_rate)
    assert facts["tie_share"] == pytest.approx(halves)
    assert facts["pilot_pairs"] == 60 and facts["judges"] == ["sim"]
    assert facts["judge_error"] == pytest.approx(expected["error"])
    assert facts["judge_error_source"] == f"run {run_id}: 40 labelled pairs"
    v = win_rate * (1 - win_rate) - halves / 4
    z = norm.ppf(0.975)
    pairs = math.ceil(z**2 * v / 0.05**2)
    assert plan["pairs"] == pairs
    calibrated_pairs = math.ceil(v / (0.25 * (0.05 / z) ** 2))
    assert plan["labels_pairs"] == calibrated_pairs
    assert plan["labels"] == _fewest_labels(0.05, z, calibrated_pairs, v, expected["error"])
    # Tokens per call from the pilot's calls: (900 + 1,100) / 2 prompt, 150 output.
    assert facts["mean_prompt_tokens"] == {"sim": 1000} and facts["mean_output_tokens"] == {
        "sim": 150
    }
    assert plan["tokens"] == {"input": 2 * pairs * 1000, "output": 2 * pairs * 150}
    calls = f"run {run_id}'s judge calls"
    assert facts["tokens_source"] == f"prompt: {calls}; output: {calls}, else max_tokens"
    assert plan["cost_usd"] == pytest.approx((2 * pairs * 1000 * 2.5 + 2 * pairs * 150 * 10) / 1e6)
    # Given figures win over the pilot's; a judge new to the pilot gets its prompt mean.
    given = _plan(
        api,
        half_width=0.05,
        pilot_run_id=run_id,
        judge_error=0.01,
        judges=["sim", "sim-anthropic"],
        mean_output_tokens=50,
    )
    assert given["assumptions"]["judge_error_source"] == "given"
    assert given["assumptions"]["mean_prompt_tokens"] == {"sim": 1000, "sim-anthropic": 1000}
    assert given["assumptions"]["mean_output_tokens"] == {"sim": 50, "sim-anthropic": 50}
    assert given["labels"] < plan["labels"]  # a better judge, fewer labels


def test_a_pilot_with_few_labels_keeps_the_default_error(api: httpx.Client, pg_url: str) -> None:
    run_id, _ = _pilot(api, pg_url, labels=10)
    facts = _plan(api, half_width=0.05, pilot_run_id=run_id)["assumptions"]
    assert facts["judge_error"] == 0.15
    assert (
        facts["judge_error_source"]
        == f"default: run {run_id} has 10 labelled pairs, 30 needed to measure it"
    )


def _refusal(api: httpx.Client, body: dict[str, Any]) -> tuple[int, list[Any], str]:
    response = api.post("/v1/plan", json=body)
    detail = response.json()["detail"]
    if isinstance(detail, str):
        return response.status_code, [], detail
    return response.status_code, detail[0]["loc"], detail[0]["msg"]


@pytest.mark.parametrize(
    ("body", "loc", "words"),
    [
        ({"expected_win_rate": 0.6}, ["body", "half_width"], "required"),
        ({"half_width": 0, "expected_win_rate": 0.6}, ["body", "half_width"], "greater"),
        ({"half_width": 0.03}, ["body", "expected_win_rate"], "or pilot_run_id"),
        (
            {"half_width": 0.03, "expected_win_rate": 0.6, "pilot_run_id": 1},
            ["body", "expected_win_rate"],
            "not both",
        ),
        ({"half_width": 0.03, "pilot_run_id": 1, "tie_share": 0.1}, ["body", "tie_share"], "pilot"),
        ({"half_width": 0.03, "expected_win_rate": 0.95}, ["body", "tie_share"], "between 0.1"),
        ({"half_width": 0.03, "expected_win_rate": 1}, ["body", "expected_win_rate"], "less"),
        (
            {"half_width": 0.03, "expected_win_rate": 0.6, "judge_error": 2},
            ["body", "judge_error"],
            "less",
        ),
        (
            {"half_width": 0.03, "expected_win_rate": 0.6, "confidence": 1},
            ["body", "confidence"],
            "less",
        ),
        ({"half_width": 0.03, "expected_win_rate": 0.6, "n": 5}, ["body", "n"], "Extra"),
        (
            {"half_width": 0.03, "expected_win_rate": 0.6, "judges": ["sim", "gpt-9"]},
            ["body", "judges", 1],
            "unknown judge 'gpt-9'",
        ),
        (
            {"half_width": 0.03, "expected_win_rate": 0.6, "judges": ["sim", "sim"]},
            ["body", "judges", 1],
            "twice",
        ),
        (
            {"half_width": 0.03, "expected_win_rate": 0.6, "pairs_available": 0},
            ["body", "pairs_available"],
            "greater",
        ),
    ],
)
def test_bad_input_is_a_422_naming_the_field(
    api: httpx.Client, body: dict[str, Any], loc: list[Any], words: str
) -> None:
    status, where, msg = _refusal(api, body)
    assert (status, where) == (422, loc), msg
    assert words in msg


def test_pilot_runs_that_cannot_serve(api: httpx.Client, pg_url: str) -> None:
    status, _, msg = _refusal(api, {"half_width": 0.03, "pilot_run_id": 987654321})
    assert (status, msg) == (404, "run 987654321 not found")
    unjudged = create_run(api, ["sim"])
    api.post(f"/v1/runs/{unjudged['id']}/pairs", json={"pairs": sample_pairs(2)})
    status, where, msg = _refusal(api, {"half_width": 0.03, "pilot_run_id": unjudged["id"]})
    assert (status, where) == (422, ["body", "pilot_run_id"])
    assert msg == f"run {unjudged['id']} is pending: plan from a finished run"
    # Finished, but every pair won: no spread to plan from.
    pairs = sample_pairs(3)
    apply_plan(
        pg_url,
        unjudged["id"],
        {pair["external_id"]: {"sim": {B: "candidate", C: "candidate"}} for pair in pairs[:2]},
    )
    status, where, msg = _refusal(api, {"half_width": 0.03, "pilot_run_id": unjudged["id"]})
    assert (status, where) == (422, ["body", "pilot_run_id"])
    assert "credit varies" in msg


@pytest.fixture(scope="module")
def keyed(pg_settings: Settings) -> Iterator[str]:
    settings = pg_settings.model_copy(update={"auth": "required"})
    with BackgroundServer(create_app(settings)) as server:
        yield server.url


def test_another_projects_run_is_not_found(keyed: str, pg_url: str) -> None:
    ours = new_key(pg_url, f"plan-a-{uuid.uuid4().hex[:6]}")
    theirs = new_key(pg_url, f"plan-b-{uuid.uuid4().hex[:6]}")
    with client(keyed, ours) as owner, client(keyed, theirs) as other:
        run = create_run(owner, ["sim"])
        body = {"half_width": 0.03, "pilot_run_id": run["id"]}
        assert owner.post("/v1/plan", json=body).status_code == 422  # found: not finished
        refused = other.post("/v1/plan", json=body)
        assert refused.status_code == 404
        assert refused.json()["detail"] == f"run {run['id']} not found"
        assert httpx.post(f"{keyed}/v1/plan", json=body).status_code == 401
