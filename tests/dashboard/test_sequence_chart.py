"""The run page draws a stop rule's confidence sequence narrowing, and where the run stopped."""

import re

import httpx
from sqlalchemy import update

from judge_service.dashboard.sequence_chart import LEFT, RIGHT, WIDTH
from judge_service.db.engine import session_factory
from judge_service.db.models import Judgment, JudgmentStatus, utcnow
from judge_service.demo.sample import sample_pairs
from judge_service.jobs.stopping import stop_decided
from tests.conftest import create_run
from tests.dashboard.test_pages import _page


def test_the_live_view_draws_the_sequence_and_the_stop_line(
    pg_api: httpx.Client, pg_url: str
) -> None:
    run = create_run(pg_api, ["sim"], stop_when={"excludes": 0.5})
    pairs = sample_pairs(80)
    assert pg_api.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": pairs}).status_code == 202
    running = _page(pg_api, f"/runs/{run['id']}/live")
    assert 'data-testid="sequential"' in running and "Still judging, in a random order" in running
    assert "sequence-chart" not in running  # no pair has an outcome: nothing to draw

    sessions = session_factory(pg_url)
    with sessions.begin() as session:
        ids = session.scalars(
            update(Judgment)
            .where(Judgment.run_id == run["id"])
            .values(status=JudgmentStatus.DONE, verdict="candidate", finished_at=utcnow())
            .returning(Judgment.pair_id)
        ).all()
        left = sorted(set(ids))[40:]  # 40 pairs judged; the rest back to pending
        session.execute(
            update(Judgment)
            .where(Judgment.pair_id.in_(left))
            .values(status=JudgmentStatus.PENDING, verdict=None, finished_at=None)
        )
    assert stop_decided(sessions, [run["id"]]) == [run["id"]]

    stopped = pg_api.get(f"/v1/runs/{run['id']}").json()
    html = _page(pg_api, f"/runs/{run['id']}/live")
    reason = re.search(r'data-testid="stop-reason">Stopped: ([^<]*)</strong>', html)
    assert reason is not None and reason.group(1) == stopped["stop_reason"]
    assert f"{stopped['counts']['judgments_skipped']} judge calls skipped" in html
    chart = re.search(r'<svg class="sequence-chart".*?</svg>', html, re.S)
    assert chart is not None
    svg = chart.group(0)
    assert svg.count("<polyline") == 2 and 'data-testid="sequence-band"' in svg
    # Everything judged came before the stop: the stop line is at the right edge.
    (x,) = re.findall(r'data-testid="stop-line" x1="([\d.]+)"', svg)
    assert float(x) == WIDTH - RIGHT
    assert "stopped after 40 pairs" in svg
    # The bounds are drawn from the left edge, one point per pair up to 40.
    upper = re.findall(r'<polyline points="([^"]+)"', svg)[0].split()
    assert len(upper) == 40 and float(upper[0].split(",")[0]) > LEFT
    assert not re.search(r"<style|\sstyle=|\son[a-z]+=", html)
