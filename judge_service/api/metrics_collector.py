"""`/metrics`: the Prometheus exposition, built at scrape time from the sources of truth.

The API and the RQ workers are separate processes, often on separate machines, so no
counter lives in the API: each scrape asks PostgreSQL (judgments, tokens, cost, latency,
aggregated in SQL, two grouped queries) and Redis (queue depth, workers, the providers'
429s and 529s the workers counted, and per endpoint of each judge the attempts, errors,
429s/529s, rate and health the workers reported: `judging/throttling.py`).

It lives with the API, not in `ops`: it reads the database and the dispatcher, which the
low-level pieces in `ops` (used by the judge calls) must not import.

Labels are the judge's name (operator configuration, the same for every project), its
endpoint's `host:port` (never its key), the status, the error kind, the queue state and the
source: never a run id, a project name or
any text a project sent, so the unauthenticated `/metrics` shows one project nothing of
another's. Totals read from the database are gauges: a retried failure stops counting until
its retry finishes, so they can step back, which a counter must never do.
"""

import logging
from collections.abc import Iterator

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry
from redis import RedisError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from judge_service.config import Settings
from judge_service.db.models import JudgmentStatus
from judge_service.db.queries import judgment_counts
from judge_service.db.usage import judge_totals
from judge_service.jobs.dispatch import Dispatcher
from judge_service.judging.throttling import endpoint_figures, throttled_counts
from judge_service.redis_clients import probe_redis

log = logging.getLogger(__name__)
LATENCY_BOUNDS_S = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


class ServiceCollector(Collector):
    """Every figure of `/metrics`; `registry` holds this collector only."""

    def __init__(
        self, settings: Settings, sessions: sessionmaker[Session], dispatcher: Dispatcher
    ) -> None:
        self._settings = settings
        self._sessions = sessions
        self._dispatcher = dispatcher
        self._redis = probe_redis(settings.redis_url) if settings.redis_url else None
        self.registry = CollectorRegistry()
        self.registry.register(self)

    def collect(self) -> Iterator[Metric]:
        """What each source answers; a source that does not answer is `up` 0, not a 500."""
        up = GaugeMetricFamily(
            "judge_metrics_source_up",
            "1 if the source answered this scrape (database, queue), else 0",
            labels=["source"],
        )
        sources = (
            ("database", self._database, SQLAlchemyError),
            ("queue", self._queue, RedisError),
        )
        for source, read, failure in sources:
            try:
                families = list(read())
            except failure as exc:
                log.warning("metrics: the %s did not answer: %r", source, exc)
                up.add_metric([source], 0.0)
                continue
            up.add_metric([source], 1.0)
            yield from families
        yield up

    def _database(self) -> Iterator[Metric]:
        with self._sessions() as session:
            counts = judgment_counts(session)
            totals = judge_totals(session, [round(s * 1000) for s in LATENCY_BOUNDS_S])
        judgments = GaugeMetricFamily(
            "judge_judgments",
            "Judgments (judge calls) by judge and status",
            labels=["judge", "status"],
        )
        failures = GaugeMetricFamily(
            "judge_judgment_failures",
            "Failed judgments by judge and error kind",
            labels=["judge", "error_kind"],
        )
        by_status: dict[tuple[str, str], int] = {}
        for row in counts:
            key = (row.judge, row.status)
            by_status[key] = by_status.get(key, 0) + row.count
            if row.reason is not None:
                failures.add_metric([row.judge, row.reason], row.count)
        for judge in sorted({judge for judge, _status in by_status}):
            for status in JudgmentStatus:
                judgments.add_metric([judge, status.value], by_status.get((judge, status), 0))
        yield judgments
        yield failures

        tokens = GaugeMetricFamily(
            "judge_tokens",
            "Tokens of finished judgments (done or failed) by judge and kind",
            labels=["judge", "kind"],
        )
        cost = GaugeMetricFamily(
            "judge_cost_usd",
            "Cost of finished judgments as stored when written (else at the judges file's prices)",
            labels=["judge"],
        )
        latency = HistogramMetricFamily(
            "judge_provider_latency_seconds",
            "Wall time of finished judgments' calls, SDK retries and backoff included",
            labels=["judge"],
        )
        judges = self._settings.all_judges
        for judge, total in sorted(totals.items()):
            tokens.add_metric([judge, "input"], total.input_tokens)
            tokens.add_metric([judge, "output"], total.output_tokens)
            config = judges.get(judge)
            usd = total.spend.cost_usd(config)
            if usd is not None:
                cost.add_metric([judge], usd)
            buckets = [
                (str(bound), count)
                for bound, count in zip(LATENCY_BOUNDS_S, total.latency_at_most, strict=True)
            ]
            latency.add_metric(
                [judge], [*buckets, ("+Inf", total.latency_count)], total.latency_sum_ms / 1000
            )
        yield tokens
        yield cost
        yield latency

    def _queue(self) -> Iterator[Metric]:
        depth = self._dispatcher.depth()
        jobs = GaugeMetricFamily(
            "judge_queue_jobs", "Jobs (chunks of pairs) by state", labels=["state"]
        )
        jobs.add_metric(["queued"], depth.queued)
        jobs.add_metric(["started"], depth.started)
        if depth.failed is not None:
            jobs.add_metric(["failed"], depth.failed)
        yield jobs
        yield GaugeMetricFamily(
            "judge_workers", "RQ workers on the queue (in-process: threads)", value=depth.workers
        )
        throttled = CounterMetricFamily(
            "judge_provider_throttled_responses",
            "Provider responses 429 (rate limited) and 529 (overloaded) by judge, retried or not",
            labels=["judge", "status"],
        )
        counts = throttled_counts(self._redis, self._settings.queue_name)
        for (judge, status), count in sorted(counts.items()):
            throttled.add_metric([judge, str(status)], count)
        yield throttled
        yield from _endpoint_families(*endpoint_figures(self._redis, self._settings.queue_name))

    def close(self) -> None:
        if self._redis is not None:
            self._redis.close()


def _endpoint_families(
    counts: dict[tuple[str, str, str], int],
    states: dict[tuple[str, str], tuple[float | None, bool]],
) -> Iterator[Metric]:
    """Per judge and endpoint: attempts, errors by kind, 429s/529s, rate and health."""
    labels = ["judge", "endpoint"]
    calls = CounterMetricFamily(
        "judge_endpoint_calls", "Attempts sent to each judge endpoint", labels=labels
    )
    errors = CounterMetricFamily(
        "judge_endpoint_errors",
        "Failed attempts at each judge endpoint by error kind, retried or failed over or not",
        labels=[*labels, "error_kind"],
    )
    throttled = CounterMetricFamily(
        "judge_endpoint_throttled_responses",
        "429 (rate limited) and 529 (overloaded) responses of each judge endpoint",
        labels=[*labels, "status"],
    )
    for (judge, endpoint, what), count in sorted(counts.items()):
        kind, _, detail = what.partition(":")
        if kind == "calls":
            calls.add_metric([judge, endpoint], count)
        elif kind == "error":
            errors.add_metric([judge, endpoint, detail], count)
        elif kind == "throttled":
            throttled.add_metric([judge, endpoint, detail], count)
    rate = GaugeMetricFamily(
        "judge_endpoint_rate_rpm",
        "Requests per minute each judge endpoint's shared budget paces at, as last reported "
        "(configured, announced or probed)",
        labels=labels,
    )
    up = GaugeMetricFamily(
        "judge_endpoint_up",
        "1 if the judge endpoint took calls when last reported, 0 while it cools down",
        labels=labels,
    )
    for (judge, endpoint), (rpm, live) in sorted(states.items()):
        if rpm is not None:
            rate.add_metric([judge, endpoint], rpm)
        up.add_metric([judge, endpoint], 1.0 if live else 0.0)
    yield from (calls, errors, throttled, rate, up)
