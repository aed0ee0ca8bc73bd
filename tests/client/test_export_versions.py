"""Issue 23's leftovers on the client side: the judgments export carries reasoning tokens and
the serving backend (system fingerprint), and `judge-service estimate` prints the estimate's
warnings instead of dropping them."""

import csv
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update

from judge_service.app import create_app
from judge_service.background import BackgroundServer
from judge_service.client import JudgeClient
from judge_service.client._frames import JUDGMENT_COLUMNS
from judge_service.config import Settings
from judge_service.db.engine import session_factory
from judge_service.db.models import Judgment
from judge_service.demo.sample import sample_pairs
from tests.api.plans import apply_plan, random_plan
from tests.api.test_auth import client, new_key
from tests.conftest import create_run
from tests.test_cli import cli

S = "sim"


def _stamp(pg_url: str, run_id: int, **values: object) -> None:
    with session_factory(pg_url)() as session:
        session.execute(update(Judgment).where(Judgment.run_id == run_id).values(**values))
        session.commit()


def test_judgments_export_has_reasoning_tokens_and_fingerprint(
    pg_api: httpx.Client, pg_url: str, tmp_path: Path
) -> None:
    run = create_run(pg_api, [S])
    pairs = sample_pairs(3)
    assert pg_api.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": pairs}).status_code == 202
    apply_plan(pg_url, run["id"], random_plan(3, seed=1, judges=(S,)))
    _stamp(pg_url, run["id"], reasoning_tokens=12, system_fingerprint="fp_x")
    with JudgeClient(str(pg_api.base_url)) as api:
        frame = api.run(run["id"]).judgments()
        assert list(frame["reasoning_tokens"]) == [12] * 6
        assert str(frame["reasoning_tokens"].dtype) == "Int64"
        assert list(frame["system_fingerprint"]) == ["fp_x"] * 6
        with api.run(run["id"]).export(tmp_path / "judgments.csv").open(newline="") as file:
            rows = list(csv.DictReader(file))
        assert {(row["reasoning_tokens"], row["system_fingerprint"]) for row in rows} == {
            ("12", "fp_x")
        }
        empty = create_run(pg_api, [S])
        assert list(api.run(empty["id"]).judgments().columns) == list(JUDGMENT_COLUMNS)
    assert {"reasoning_tokens", "system_fingerprint"} <= set(JUDGMENT_COLUMNS)


@pytest.fixture(scope="module")
def locked(pg_settings: Settings) -> Iterator[str]:
    settings = pg_settings.model_copy(update={"auth": "required"})
    with BackgroundServer(create_app(settings)) as server:
        yield server.url


def test_estimate_prints_its_warnings(locked: str, pg_url: str) -> None:
    key = new_key(pg_url, f"estimate-{uuid.uuid4().hex[:6]}")  # a project of its own
    with client(locked, key) as api:
        used = create_run(api, [S])
        post = api.post(f"/v1/runs/{used['id']}/pairs", json={"pairs": sample_pairs(15)})
        assert post.status_code == 202
        apply_plan(pg_url, used["id"], random_plan(15, seed=2, judges=(S,)))  # 20+ done calls
        _stamp(pg_url, used["id"], output_tokens=50_000)  # far above the judge's max_tokens
        left = create_run(api, [S])
        post = api.post(f"/v1/runs/{left['id']}/pairs", json={"pairs": sample_pairs(2)})
        assert post.status_code == 202
        (warning,) = api.post(f"/v1/runs/{left['id']}/estimate").json()["warnings"]
    result = cli("estimate", str(left["id"]), "--url", locked, "--api-key", key)
    assert result.returncode == 0, result.stderr
    assert "warning:" in result.stderr
    assert " ".join(warning.split()[:6]) in " ".join(result.stderr.split())
