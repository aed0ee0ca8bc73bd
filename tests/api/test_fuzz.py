"""Schemathesis with every check over the whole OpenAPI surface, against the real app on
PostgreSQL: its coverage, fuzzing and stateful phases, as `schemathesis run --checks all`.

Every answer must be a documented status with a body matching its schema, never a 5xx; a
request the schema calls valid must be accepted, one it calls invalid refused; a 405 must
list the path's methods. The rules no schema can state (stored data, who asks) are listed,
each with its reason, in tests/api/schemathesis.toml. The app runs on a real socket over its
own database, seeded with a judged run, and an RQ queue no worker reads: no judge is called.
"""

import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from judge_service.app import create_app
from judge_service.background import BackgroundServer
from judge_service.config import Settings
from judge_service.db import migrate
from judge_service.demo.sample import sample_pairs
from judge_service.judging.verdicts import Order
from tests.api.plans import apply_plan
from tests.conftest import create_run

CONFIG = Path(__file__).with_name("schemathesis.toml")
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


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


@pytest.mark.slow
def test_every_check_passes_over_the_whole_api(fuzz_api: str, tmp_path: Path) -> None:
    command = [
        str(SCHEMATHESIS),
        "--config-file",
        str(CONFIG),
        "run",
        f"{fuzz_api}/openapi.json",
        "--url",
        fuzz_api,
        "--checks",
        "all",
        "--max-examples",
        "30",
        "--seed",
        "1",
        "--no-color",
    ]
    # In a directory of its own: the CLI leaves its cache in `.schemathesis/` there.
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=tmp_path)
    summary = done.stdout[-4000:]
    print(summary)
    assert done.returncode == 0, summary
    generated = re.search(r"(\d+) generated", done.stdout)
    assert generated and int(generated[1]) > 1000, summary  # the whole surface, not a sample
