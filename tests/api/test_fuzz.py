"""Property-based fuzzing of the whole OpenAPI surface, against the real app on PostgreSQL.

Schemathesis generates valid and invalid requests for every operation from the OpenAPI
document; each answer must be a documented status with a body matching its schema, and
never a 5xx. The app runs on a real socket over its own database, seeded with a judged
run, and an RQ queue no worker reads: no judge is ever called.
"""

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import Case
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from judge_service.app import create_app
from judge_service.background import BackgroundServer
from judge_service.config import Settings
from judge_service.db import migrate
from judge_service.demo.sample import sample_pairs
from judge_service.judging.verdicts import Order
from tests.api.plans import apply_plan
from tests.conftest import create_run

# Not negative_data_rejection: pydantic's lax mode accepts 0 for false and "1" for 1 by
# design, where the JSON schema names one type. Every other built-in response check runs.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

# The OpenAPI document does not depend on settings: build it once, without a server.
schema = schemathesis.openapi.from_dict(create_app().openapi())

# Statuses answered across the module, printed at its end for docs/reliability.md.
answered: Counter[int] = Counter()


@pytest.fixture(scope="module")
def fuzz_api(
    make_pg_database: Callable[[], str],
    redis_url: str,
    queue_name: str,
    judges: dict[str, dict[str, Any]],
) -> Iterator[str]:
    """The API on a database of its own, holding run 1: judged, with metadata and a label."""
    url = make_pg_database()
    migrate.upgrade(url)
    settings_ = Settings(
        database_url=url, redis_url=redis_url, queue_name=queue_name, judges=judges
    )
    with (
        BackgroundServer(create_app(settings_)) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        run = create_run(client, ["sim", "sim-anthropic"], rubric="reasoning-trace")
        pairs = sample_pairs(6)
        client.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": pairs}).raise_for_status()
        verdicts = ["candidate", "baseline", "tie", "failed"]
        plan = {
            pair["external_id"]: {
                judge: {
                    Order.BASELINE_FIRST: verdicts[i % 4],
                    Order.CANDIDATE_FIRST: verdicts[(i + j) % 3],
                }
                for j, judge in enumerate(["sim", "sim-anthropic"])
            }
            for i, pair in enumerate(pairs)
        }
        apply_plan(url, run["id"], plan)
        [first, *_] = client.get(f"/v1/runs/{run['id']}/pairs").json()["items"]
        label = {"label": "candidate", "annotator": "fuzz"}
        client.post(f"/v1/pairs/{first['pair_id']}/human-labels", json=label).raise_for_status()
        yield server.url
    print(f"fuzz: {answered.total()} requests, statuses {dict(sorted(answered.items()))}")


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_answer_is_documented_and_none_is_a_server_error(case: Case, fuzz_api: str) -> None:
    response = case.call_and_validate(base_url=fuzz_api, checks=CHECKS)
    answered[response.status_code] += 1
