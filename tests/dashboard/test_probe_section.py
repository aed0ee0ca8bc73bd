"""The run page's Probes section, on verdicts written into PostgreSQL: the same rows as
`GET /v1/runs/{id}/probes`; absent from a run without probes; a probe run names its source."""

import re
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import delete

from judge_service.db.engine import session_factory
from judge_service.db.models import Run
from judge_service.demo.sample import sample_pairs
from tests.api.plans import B, C, apply_plan
from tests.conftest import create_run


@pytest.fixture
def made(pg_url: str) -> Iterator[list[int]]:
    runs: list[int] = []
    yield runs
    with session_factory(pg_url).begin() as session:
        session.execute(delete(Run).where(Run.id.in_(runs)))


def test_run_page_lists_the_probe_table(pg_api: httpx.Client, pg_url: str, made: list[int]) -> None:
    source = create_run(pg_api, ["sim"])
    made.append(source["id"])
    pairs = sample_pairs(10)
    pg_api.post(f"/v1/runs/{source['id']}/pairs", json={"pairs": pairs}).raise_for_status()
    assert 'data-testid="probes"' not in pg_api.get(f"/runs/{source['id']}").text

    created = pg_api.post(
        f"/v1/runs/{source['id']}/probes", json={"probes": ["pad_length"], "sample": 10}
    )
    probe = created.json()["runs"][0]
    made.append(probe["id"])
    keys = [pair["external_id"] for pair in pairs]
    apply_plan(pg_url, source["id"], {k: {"sim": {B: "candidate", C: "candidate"}} for k in keys})
    after = {k: {"sim": {B: "candidate", C: "candidate"}} for k in keys[:6]}
    after |= {k: {"sim": {B: "baseline", C: "baseline"}} for k in keys[6:]}
    apply_plan(pg_url, probe["id"], after)

    table = pg_api.get(f"/v1/runs/{source['id']}/probes").json()
    (row,) = table["rows"]  # the general rubric has no axes: the overall verdict only
    html = pg_api.get(f"/runs/{source['id']}").text
    section = html[html.index('data-testid="probes"') :]
    assert f'href="/runs/{probe["id"]}"' in section and "10 pairs, done" in section
    (shown,) = re.findall(
        r'<tr data-probe="pad_length" data-judge="sim" data-axis="overall">(.*?)</tr>',
        section,
        re.S,
    )
    assert "40.0%" in shown and row["changed_share"] == 0.4
    low, high = row["changed_ci"]
    assert f"{100 * low:.1f} - {100 * high:.1f}" in shown
    assert re.findall(r'data-testid="probe-reading">([^<]*)<', section) == [row["reading"]]

    page = pg_api.get(f"/runs/{probe['id']}").text
    assert 'data-testid="probe-of"' in page and f'href="/runs/{source["id"]}"' in page
