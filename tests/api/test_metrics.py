"""`/metrics`: Prometheus text built at scrape time from PostgreSQL and Redis.

Judge names are unique to each test: the session's database holds every test's runs, and
the figures are per judge over all of them.
"""

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text

from judge_service.app import create_app
from judge_service.background import BackgroundServer, free_port
from judge_service.config import Settings
from judge_service.db import migrate
from judge_service.db.engine import session_factory
from judge_service.db.projects import create_key
from judge_service.demo.sample import sample_pairs
from judge_service.simulate.config import SimulatorConfig
from judge_service.simulate.server import create_app as create_simulator
from tests.conftest import (
    StackFactory,
    create_run,
    simulated_judges,
    simulator_stats,
    wait_until_done,
)

LABELS = {"judge", "endpoint", "status", "error_kind", "kind", "state", "source", "le"}
# Two requests back to back, then two a second: concurrent calls get 429s.
RATE_LIMITED = SimulatorConfig(latency_mean_s=0.0, latency_jitter_s=0.0, rpm_limit=120, rpm_burst=2)


class Scrape:
    """One `/metrics` body, parsed by Prometheus's own parser."""

    def __init__(self, client: httpx.Client) -> None:
        response = client.get("/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain; version=")
        self.body = response.text
        families = list(text_string_to_metric_families(self.body))
        self.families = {family.name for family in families}
        self.samples = [sample for family in families for sample in family.samples]

    def value(self, name: str, **labels: str) -> float | None:
        found = [s.value for s in self.samples if s.name == name and s.labels == labels]
        assert len(found) <= 1, (name, labels)
        return found[0] if found else None

    def total(self, name: str, **labels: str) -> float:
        """The sum over the samples whose labels include `labels`."""
        return sum(
            s.value for s in self.samples if s.name == name and labels.items() <= s.labels.items()
        )


def unique_judges(simulator_url: str, **extra: Any) -> dict[str, dict[str, Any]]:
    """A priced OpenAI-format judge and an Anthropic-format one whose replies never parse."""
    base = simulated_judges(simulator_url)
    tag = uuid.uuid4().hex[:8]
    return {
        f"priced-{tag}": {
            **base["sim"],
            "input_usd_per_mtok": 2.5,
            "output_usd_per_mtok": 10.0,
            **extra,
        },
        f"broken-{tag}": {
            **base["sim-anthropic"],
            "model": "simulated-judge@malformed_rate=1,persistent_faults=1",
            **extra,
        },
    }


def test_metrics_after_a_run_are_the_database_s_figures(stack_factory: StackFactory) -> None:
    stack = stack_factory(judges=unique_judges)
    priced, broken = list(stack.settings.judges)
    run = create_run(stack.api, [priced, broken])
    stack.api.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": sample_pairs(6)})
    stack.start_worker()
    counts = wait_until_done(stack.api, run["id"])["counts"]
    assert counts["judgments_done"] == 12 and counts["judgments_failed"] == 12

    scrape = Scrape(stack.api)

    assert scrape.value("judge_metrics_source_up", source="database") == 1
    assert scrape.value("judge_metrics_source_up", source="queue") == 1
    for status in ("done", "failed", "pending", "running"):  # every status, zeros too
        assert scrape.value("judge_judgments", judge=broken, status=status) is not None
    assert scrape.value("judge_judgments", judge=priced, status="done") == 12
    assert scrape.value("judge_judgments", judge=broken, status="failed") == 12
    assert scrape.value("judge_judgments", judge=priced, status="pending") == 0
    judged = sum(
        scrape.total("judge_judgments", judge=judge, status=status)
        for judge in (priced, broken)
        for status in ("done", "failed")
    )
    assert judged == counts["judgments_expected"]
    assert (
        scrape.value("judge_judgment_failures", judge=broken, error_kind="parse_error")
        == (counts["failed_by_reason"]["parse_error"])
    )

    engine = create_engine(stack.settings.database_url)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT judge, sum(input_tokens), sum(output_tokens), count(latency_ms),"
                " sum(latency_ms), count(*) FILTER (WHERE latency_ms <= 100)"
                " FROM judgments WHERE run_id = :run GROUP BY judge"
            ),
            {"run": run["id"]},
        ).all()
    engine.dispose()
    for judge, tokens_in, tokens_out, timed, latency_ms, fast in rows:
        assert tokens_in > 0 and tokens_out > 0
        assert scrape.value("judge_tokens", judge=judge, kind="input") == tokens_in
        assert scrape.value("judge_tokens", judge=judge, kind="output") == tokens_out
        assert scrape.value("judge_provider_latency_seconds_count", judge=judge) == timed
        assert scrape.value("judge_provider_latency_seconds_sum", judge=judge) == pytest.approx(
            latency_ms / 1000
        )
        assert scrape.value("judge_provider_latency_seconds_bucket", judge=judge, le="0.1") == fast
        assert (
            scrape.value("judge_provider_latency_seconds_bucket", judge=judge, le="+Inf") == timed
        )
        if judge == priced:
            expected = (tokens_in * 2.5 + tokens_out * 10.0) / 1e6
            assert scrape.value("judge_cost_usd", judge=judge) == pytest.approx(expected)
    assert scrape.value("judge_cost_usd", judge=broken) is None  # no prices, no cost

    assert scrape.value("judge_queue_jobs", state="queued") == 0
    assert scrape.value("judge_queue_jobs", state="failed") == 0
    assert scrape.value("judge_workers") == 1
    assert scrape.total("judge_provider_throttled_responses_total") == 0


def test_metrics_count_the_429s_the_workers_received(stack_factory: StackFactory) -> None:
    stack = stack_factory(
        judges=lambda url: unique_judges(url, max_retries=2), simulator_config=RATE_LIMITED
    )
    judges = list(stack.settings.judges)
    run = create_run(stack.api, judges)
    stack.api.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": sample_pairs(4)})
    stack.start_worker()
    wait_until_done(stack.api, run["id"])

    sent = simulator_stats(stack.simulator)["rate_limited"]
    assert sent > 0
    scrape = Scrape(stack.api)
    received = scrape.total("judge_provider_throttled_responses_total", status="429")
    assert received == sent
    assert {s.labels["judge"] for s in scrape.samples if "throttled" in s.name} <= set(judges)


def test_metrics_carry_no_run_project_or_pair_data(pg_settings: Settings) -> None:
    project = f"secret-project-{uuid.uuid4().hex[:8]}"
    with session_factory(pg_settings.database_url)() as session:
        key = create_key(session, project)
    pair = {
        **sample_pairs(1)[0],
        "external_id": f"ext-{uuid.uuid4().hex}",
        "question": f"Question {uuid.uuid4().hex}?",
        "baseline_trace": f"Baseline {uuid.uuid4().hex}",
        "metadata": {"site": f"hospital-{uuid.uuid4().hex[:8]}"},
    }
    settings = pg_settings.model_copy(update={"auth": "required"})
    with (
        BackgroundServer(create_app(settings)) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        client.headers["authorization"] = f"Bearer {key}"
        run = create_run(client, ["sim"], name=f"run-{uuid.uuid4().hex}", candidate="tuned-x9")
        assert client.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": [pair]}).status_code == 202
        del client.headers["authorization"]
        assert client.get("/v1/runs").status_code == 401
        scrape = Scrape(client)  # no key: Prometheus scrapes without one

    secrets = [project, run["name"], run["candidate"], pair["metadata"]["site"]]
    secrets += [pair[field] for field in ("external_id", "question", "baseline_trace")]
    assert not [secret for secret in secrets if secret in scrape.body]
    assert {name for s in scrape.samples for name in s.labels} <= LABELS
    assert str(run["id"]) not in {value for s in scrape.samples for value in s.labels.values()}


def test_metrics_in_the_embedded_mode(tmp_path: Path) -> None:
    """SQLite, jobs on the API's threads: the same figures, the 429s counted in-process."""
    url = f"sqlite:///{tmp_path / 'embedded.db'}"
    migrate.upgrade(url)
    with BackgroundServer(create_simulator(RATE_LIMITED)) as simulator:
        settings = Settings(
            database_url=url, judges=unique_judges(simulator.url, max_retries=2), chunk_size=5
        )
        priced, broken = list(settings.judges)
        with (
            BackgroundServer(create_app(settings)) as server,
            httpx.Client(base_url=server.url, timeout=30) as client,
        ):
            run = create_run(client, [priced, broken])
            client.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": sample_pairs(5)})
            counts = wait_until_done(client, run["id"])["counts"]
            scrape = Scrape(client)
        sent = simulator_stats(simulator)["rate_limited"]

    assert scrape.total("judge_judgments", status="done") == counts["judgments_done"]
    assert scrape.total("judge_judgments", status="failed") == counts["judgments_failed"]
    assert scrape.total("judge_tokens", judge=priced) > 0
    assert scrape.value("judge_queue_jobs", state="queued") == 0
    assert scrape.value("judge_queue_jobs", state="failed") is None  # nothing keeps them
    assert scrape.value("judge_workers") == settings.inprocess_workers
    assert sent > 0
    assert scrape.total("judge_provider_throttled_responses_total", status="429") == sent


@pytest.mark.parametrize("down", ["database", "queue"])
def test_metrics_answer_with_a_source_down(down: str, pg_url: str, redis_url: str) -> None:
    dead = free_port()
    urls = {"database": pg_url, "queue": redis_url}
    urls[down] = {
        "database": f"postgresql+psycopg://postgres@127.0.0.1:{dead}/judge",
        "queue": f"redis://127.0.0.1:{dead}/0",
    }[down]
    settings = Settings(database_url=urls["database"], redis_url=urls["queue"])
    with (
        BackgroundServer(create_app(settings)) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        scrape = Scrape(client)
    (up,) = set(urls) - {down}
    assert scrape.value("judge_metrics_source_up", source=down) == 0
    assert scrape.value("judge_metrics_source_up", source=up) == 1
    family = {"database": "judge_judgments", "queue": "judge_queue_jobs"}
    assert family[down] not in scrape.families and family[up] in scrape.families
