"""Drift references and checks through the API, on verdicts written into PostgreSQL, and the
flag a run's stats raise when a judge's version changed within it.

Expected figures are computed here from the planned verdicts, with scipy and statsmodels.
"""

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from scipy.stats import ttest_rel
from sqlalchemy import update
from statsmodels.stats.inter_rater import cohens_kappa

from judge_service.app import create_app
from judge_service.background import BackgroundServer
from judge_service.config import Settings
from judge_service.db.engine import session_factory
from judge_service.db.models import Judgment, Pair
from judge_service.demo.sample import sample_pairs
from judge_service.stats.agreement import confusion
from judge_service.stats.preference import OUTCOME_CODES, Outcome, combine_orders
from tests.api.plans import B, C, Plan, apply_plan, random_plan
from tests.api.test_auth import client, new_key
from tests.conftest import create_run

S = "sim"
CREDIT = {"candidate": 1.0, "baseline": 0.0, "tie": 0.5, "inconsistent": 0.5}


def _judged_run(api: httpx.Client, pg_url: str, plan: Plan) -> dict[str, Any]:
    run = create_run(api, [S])
    pairs = sample_pairs(len(plan))
    assert api.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": pairs}).status_code == 202
    apply_plan(pg_url, run["id"], plan)
    return run


def _set_models(pg_url: str, run_id: int, model: str, fingerprint: str | None = None) -> None:
    with session_factory(pg_url)() as session:
        session.execute(
            update(Judgment)
            .where(Judgment.run_id == run_id)
            .values(judge_model=model, system_fingerprint=fingerprint)
        )
        session.commit()


def _external_ids(pg_url: str, run_id: int) -> list[str]:
    with session_factory(pg_url)() as session:
        rows = session.query(Pair.external_id).filter(Pair.run_id == run_id).order_by(Pair.id)
        return [external_id for (external_id,) in rows]


def _outcome(plan: Plan, external_id: str) -> Outcome | None:
    orders = plan[external_id][S]
    if "failed" in orders.values():
        return None
    return combine_orders([orders[B], orders[C]])


def _expected(before: Plan, after: Plan, ids: list[str]) -> dict[str, Any]:
    """The comparison, counted independently from the two plans."""
    both = [(_outcome(before, i), _outcome(after, i)) for i in ids]
    kept = [(a, b) for a, b in both if a is not None and b is not None]
    old = np.array([CREDIT[a] for a, _ in kept])
    new = np.array([CREDIT[b] for _, b in kept])
    codes = [np.array([OUTCOME_CODES[pair[side]] for pair in kept]) for side in (0, 1)]
    return {
        "pairs": len(kept),
        "agreement": np.mean([a == b for a, b in kept]),
        "kappa": cohens_kappa(confusion(*codes), return_results=False),
        "change": new.mean() - old.mean(),
        "ci": tuple(ttest_rel(new, old).confidence_interval(0.95)),
    }


def test_checks_compare_with_the_reference_run_then_with_the_check_before(
    pg_api: httpx.Client, pg_url: str
) -> None:
    reference_plan = random_plan(40, seed=5, judges=(S,))
    run = _judged_run(pg_api, pg_url, reference_plan)
    _set_models(pg_url, run["id"], "simulated-judge", "fp-1")
    body = {"run_id": run["id"], "judge": S, "sample": 30, "seed": 3}
    reference = pg_api.post("/v1/drift/references", json=body)
    assert reference.status_code == 201, reference.text
    assert reference.json()["pairs"] == 30

    started = pg_api.post("/v1/drift/checks", json={"judge": S})
    assert started.status_code == 201, started.text
    first = started.json()
    assert (first["status"], first["comparison"]) == ("pending", None)
    assert first["compared_with"] == "reference_run" and first["previous_run_id"] == run["id"]
    ids = _external_ids(pg_url, first["run_id"])
    assert len(ids) == 30 and set(ids) < set(reference_plan)
    check_run = pg_api.get(f"/v1/runs/{first['run_id']}").json()
    assert check_run["judges"] == [S] and check_run["counts"]["pairs"] == 30

    # The judge moved: every pair's second order now names the candidate.
    moved = random_plan(40, seed=5, judges=(S,))
    for external_id in moved:
        moved[external_id][S][C] = "candidate"
    apply_plan(pg_url, first["run_id"], {i: moved[i] for i in ids})
    _set_models(pg_url, first["run_id"], "simulated-judge", "fp-2")
    report = pg_api.get(f"/v1/drift/checks/{first['id']}").json()
    assert report["status"] == "done"
    expected = _expected(reference_plan, moved, ids)
    comparison = report["comparison"]
    assert comparison["pairs"] == expected["pairs"]
    assert comparison["agreement"] == pytest.approx(expected["agreement"])
    assert comparison["kappa"] == pytest.approx(expected["kappa"])
    assert comparison["win_rate_change"] == pytest.approx(expected["change"])
    assert comparison["win_rate_change_ci"] == pytest.approx(expected["ci"])
    assert comparison["drifted"] == (expected["ci"][0] > 0 or expected["ci"][1] < 0)
    assert comparison["drifted"] and comparison["win_rate_change"] > 0
    assert report["versions_before"] == ["simulated-judge (fp-1)"]
    assert report["versions_after"] == ["simulated-judge (fp-2)"]
    assert report["version_changed"]

    # The next check is compared with the first, not with the reference run.
    second = pg_api.post("/v1/drift/checks", json={"judge": S}).json()
    assert second["compared_with"] == "previous_check"
    assert (second["previous_check_id"], second["previous_run_id"]) == (
        first["id"],
        first["run_id"],
    )
    assert _external_ids(pg_url, second["run_id"]) == ids
    apply_plan(pg_url, second["run_id"], {i: moved[i] for i in ids})
    _set_models(pg_url, second["run_id"], "simulated-judge", "fp-2")
    same = pg_api.get(f"/v1/drift/checks/{second['id']}").json()["comparison"]
    assert same["agreement"] == 1.0 and same["win_rate_change"] == 0.0
    assert not same["drifted"]


def test_version_change_within_a_run_is_flagged_in_its_stats(
    pg_api: httpx.Client, pg_url: str
) -> None:
    run = _judged_run(pg_api, pg_url, random_plan(10, seed=8, judges=(S,)))
    _set_models(pg_url, run["id"], "simulated-judge")
    steady = pg_api.get(f"/v1/runs/{run['id']}/stats").json()
    assert steady["judge_versions"] == {S: ["simulated-judge"]}
    assert steady["warnings"] == []

    with session_factory(pg_url)() as session:
        first_pairs = session.query(Pair.id).filter(Pair.run_id == run["id"]).limit(5)
        session.execute(
            update(Judgment)
            .where(Judgment.pair_id.in_(first_pairs.scalar_subquery()))
            .values(judge_model="simulated-judge-2026-12")
        )
        session.commit()
    stats = pg_api.get(f"/v1/runs/{run['id']}/stats").json()
    assert stats["judge_versions"] == {S: ["simulated-judge", "simulated-judge-2026-12"]}
    (warning,) = stats["warnings"]
    assert repr(S) in warning and "simulated-judge-2026-12" in warning
    page = pg_api.get(f"/runs/{run['id']}")
    assert page.status_code == 200
    assert 'data-testid="stats-warning"' in page.text and "simulated-judge-2026-12" in page.text


@pytest.fixture(scope="module")
def locked(pg_settings: Settings) -> Iterator[str]:
    settings = pg_settings.model_copy(update={"auth": "required"})
    with BackgroundServer(create_app(settings)) as server:
        yield server.url


def test_bad_input_is_refused_with_the_reason(locked: str, pg_url: str) -> None:
    ours = new_key(pg_url, f"drift-{uuid.uuid4().hex[:6]}")
    theirs = new_key(pg_url, f"other-{uuid.uuid4().hex[:6]}")
    with client(locked, ours) as api, client(locked, theirs) as other:
        # Before any reference: a clear 409, not an empty check.
        early = api.post("/v1/drift/checks", json={"judge": S})
        assert early.status_code == 409
        assert "no drift reference" in early.json()["detail"]

        run = _judged_run(api, pg_url, random_plan(6, seed=2, judges=(S,)))
        for path, body in [
            ("/v1/drift/references", {"run_id": run["id"], "judge": "nobody"}),
            ("/v1/drift/checks", {"judge": "nobody"}),
        ]:
            refused = api.post(path, json=body)
            assert refused.status_code == 422, refused.text
            (error,) = refused.json()["detail"]
            assert error["loc"] == ["body", "judge"] and "nobody" in error["msg"]
        unjudged = api.post(
            "/v1/drift/references", json={"run_id": run["id"], "judge": "sim-anthropic"}
        )
        assert unjudged.status_code == 422 and "did not judge" in unjudged.text

        # Another project's run cannot be a reference, nor its checks be read.
        stolen = other.post("/v1/drift/references", json={"run_id": run["id"], "judge": S})
        assert stolen.status_code == 404 and "not found" in stolen.json()["detail"]
        assert (
            api.post("/v1/drift/references", json={"run_id": run["id"], "judge": S}).status_code
            == 201
        )
        check = api.post("/v1/drift/checks", json={"judge": S}).json()
        assert api.get(f"/v1/drift/checks/{check['id']}").status_code == 200
        assert other.get(f"/v1/drift/checks/{check['id']}").status_code == 404
        assert other.post("/v1/drift/checks", json={"judge": S}).status_code == 409
