"""Batch mode's step (recover, poll, submit) against the simulated batch APIs, in process.

The simulated provider holds every batch for an hour; `release` ends them and makes them
due a look, so each step sees exactly the state the test set up and nothing waits on a
clock.
"""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from judge_service.background import BackgroundServer
from judge_service.config import Settings
from judge_service.db.engine import session_factory
from judge_service.db.models import (
    BatchStatus,
    Judgment,
    JudgmentStatus,
    ProviderBatch,
    Run,
    RunMode,
    utcnow,
)
from judge_service.db.projects import default_project
from judge_service.db.queries import insert_pairs
from judge_service.jobs.batch_mode import (
    BATCH_ERROR,
    batch_boundary,
    batch_step,
    custom_id,
    parse_custom_id,
)
from judge_service.jobs.claims import work_items
from judge_service.jobs.dispatch import InProcessDispatcher
from judge_service.jobs.reconcile import reconcile
from judge_service.judging.batches import BATCH_WINDOW_S
from judge_service.simulate.config import SimulatorConfig
from judge_service.simulate.server import create_app
from tests.conftest import simulated_judges, simulator_stats

HOUR = 3600.0


@pytest.fixture
def provider() -> Iterator[BackgroundServer]:
    config = SimulatorConfig(latency_mean_s=0, latency_jitter_s=0, seed=11, batch_delay_s=HOUR)
    with BackgroundServer(create_app(config)) as server:
        yield server


def settings_for(pg_url: str, provider: BackgroundServer, **extra: Any) -> Settings:
    return Settings(database_url=pg_url, judges=simulated_judges(provider.url), **extra)


@pytest.fixture
def sessions(pg_url: str) -> sessionmaker[Session]:
    return session_factory(pg_url)


class BatchRuns:
    """Makes batch-mode runs, and deletes them after the test: a batch run left behind
    would be sent by the next worker of the session that runs the batch step."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions
        self.made: list[int] = []

    def __call__(
        self, judges: list[str], pairs: int, judge_configs: dict[str, Any] | None = None
    ) -> int:
        with self.sessions() as session:
            run = Run(
                project_id=default_project(session).id,
                name="batch",
                baseline="b",
                candidate="c",
                judges=judges,
                swap=True,
                mode=RunMode.BATCH,
                judge_configs=judge_configs or {},
            )
            session.add(run)
            session.flush()
            rows = [
                {
                    "external_id": f"p{i}",
                    "question": f"Question {i}?",
                    "reference_answer": "alpha",
                    "baseline_trace": f"Reasoning {i}.\nFinal answer: {'ab'[i % 2]}",
                    "candidate_trace": f"Other reasoning {i}.\nFinal answer: alpha",
                    "image_urls": [],
                    "meta": {},
                }
                for i in range(pairs)
            ]
            insert_pairs(session, run, rows)
            session.commit()
            self.made.append(run.id)
            return run.id


@pytest.fixture
def batch_run(sessions: sessionmaker[Session]) -> Iterator[BatchRuns]:
    runs = BatchRuns(sessions)
    yield runs
    with sessions.begin() as session:
        session.execute(delete(Run).where(Run.id.in_(runs.made)))


def judgments(sessions: sessionmaker[Session], run_id: int) -> list[Judgment]:
    with sessions() as session:
        return list(
            session.scalars(select(Judgment).where(Judgment.run_id == run_id).order_by(Judgment.id))
        )


def batches(sessions: sessionmaker[Session], run_id: int) -> list[ProviderBatch]:
    with sessions() as session:
        return list(
            session.scalars(
                select(ProviderBatch)
                .where(ProviderBatch.run_id == run_id)
                .order_by(ProviderBatch.id)
            )
        )


def release(provider: BackgroundServer, sessions: sessionmaker[Session]) -> None:
    """End the provider's batches, and make them due a look as if an interval had passed."""
    httpx.post(provider.url + "/simulator/batches/release").raise_for_status()
    with sessions.begin() as session:
        session.execute(
            update(ProviderBatch)
            .where(ProviderBatch.status == BatchStatus.IN_PROGRESS)
            .values(poll_after=utcnow())
        )


def test_custom_ids_name_the_judgment_and_its_claim() -> None:
    assert parse_custom_id(custom_id(42, "abc123")) == (42, "abc123")
    assert parse_custom_id("x42_abc") is None
    assert parse_custom_id("j42") is None
    assert batch_boundary("t", 1) == batch_boundary("t", 1) != batch_boundary("t", 2)


def test_one_batch_per_judge_is_submitted_then_mapped_back(
    pg_url: str,
    provider: BackgroundServer,
    sessions: sessionmaker[Session],
    batch_run: BatchRuns,
) -> None:
    settings = settings_for(pg_url, provider)
    run_id = batch_run(["sim", "sim-anthropic"], pairs=3)

    first = batch_step(settings, sessions)
    assert (first.submitted, first.requests, first.ended) == (2, 12, 0)
    sent = batches(sessions, run_id)
    assert [(b.judge, b.provider, b.status, b.requests) for b in sent] == [
        ("sim", "openai", BatchStatus.IN_PROGRESS, 6),
        ("sim-anthropic", "anthropic", BatchStatus.IN_PROGRESS, 6),
    ]
    assert all(b.provider_batch_id and b.submitted_at for b in sent)
    held = judgments(sessions, run_id)
    assert {j.status for j in held} == {JudgmentStatus.RUNNING}
    by_judge = {b.judge: b for b in sent}
    for judgment in held:
        batch = by_judge[judgment.judge]
        assert (judgment.batch_id, judgment.claim_token) == (batch.id, batch.claim_token)
        # The claim outlives the provider's 24 h window, so the reconciler leaves it alone.
        assert judgment.lease_expires_at is not None
        assert judgment.lease_expires_at > utcnow() + timedelta(seconds=BATCH_WINDOW_S)
    # Nothing more to send while the batches are out; nothing ended yet.
    assert not batch_step(settings, sessions)

    release(provider, sessions)
    second = batch_step(settings, sessions)
    assert (second.ended, second.submitted) == (2, 0)
    done = judgments(sessions, run_id)
    assert {j.status for j in done} == {JudgmentStatus.DONE}
    assert len({(j.pair_id, j.judge, j.order) for j in done}) == 12
    for judgment in done:
        assert judgment.verdict in {"baseline", "candidate", "tie"}
        assert judgment.input_tokens and judgment.output_tokens
        assert judgment.latency_ms is None and judgment.attempts == 1
        assert judgment.batch_id == by_judge[judgment.judge].id
        assert judgment.claim_token is None
        assert judgment.boundary == batch_boundary(
            by_judge[judgment.judge].claim_token, judgment.id
        )
    # The stored prompt hash names the prompt that was sent, rebuilt from its boundary code.
    with sessions() as session:
        item = work_items(
            session, [done[0].id], settings.all_judges, lambda _id: done[0].boundary or ""
        )[0]
    assert item.prompt.sha256 == done[0].prompt_sha256
    ended = batches(sessions, run_id)
    assert [(b.status, b.succeeded, b.errored) for b in ended] == [(BatchStatus.ENDED, 6, 0)] * 2
    assert [b.provider_status for b in ended] == ["completed", "ended"]
    counters = simulator_stats(provider)
    assert counters["requests"] == 0  # not one live call
    assert counters["batches"] == {"openai": 1, "anthropic": 1}
    assert counters["batch_requests"] == {"openai": 6, "anthropic": 6}


def test_an_answer_for_a_claim_no_longer_held_changes_nothing(
    pg_url: str,
    provider: BackgroundServer,
    sessions: sessionmaker[Session],
    batch_run: BatchRuns,
) -> None:
    settings = settings_for(pg_url, provider)
    run_id = batch_run(["sim"], pairs=2)
    batch_step(settings, sessions)
    release(provider, sessions)
    batch_step(settings, sessions)
    before = [
        (j.id, j.status, j.verdict, j.finished_at, j.raw_response)
        for j in judgments(sessions, run_id)
    ]

    # The same batch polled again (as a second worker might): every answer is stale now.
    with sessions.begin() as session:
        session.execute(
            update(ProviderBatch)
            .where(ProviderBatch.run_id == run_id)
            .values(status=BatchStatus.IN_PROGRESS, poll_after=utcnow())
        )
    again = batch_step(settings, sessions)
    assert again.ended == 1
    after = [
        (j.id, j.status, j.verdict, j.finished_at, j.raw_response)
        for j in judgments(sessions, run_id)
    ]
    assert after == before
    assert simulator_stats(provider)["batches"]["openai"] == 1


def test_partial_failures_go_in_the_next_batch(
    pg_url: str, sessions: sessionmaker[Session], batch_run: BatchRuns
) -> None:
    config = SimulatorConfig(
        latency_mean_s=0, latency_jitter_s=0, batch_delay_s=HOUR, batch_error_rate=0.4
    )
    with BackgroundServer(create_app(config)) as provider:
        settings = settings_for(pg_url, provider)
        run_id = batch_run(["sim"], pairs=8)
        batch_step(settings, sessions)
        release(provider, sessions)
        # Maps the first batch back, then sends what errored in a second batch.
        step = batch_step(settings, sessions)
        assert (step.ended, step.submitted) == (1, 1)
        first, second = batches(sessions, run_id)
        assert 0 < first.errored < 16 and first.succeeded == 16 - first.errored
        assert second.requests == first.errored
        waiting = [j for j in judgments(sessions, run_id) if j.status != JudgmentStatus.DONE]
        assert len(waiting) == first.errored
        assert all(j.batch_id == second.id and j.attempts == 2 for j in waiting)

        release(provider, sessions)
        batch_step(settings, sessions)
        finished = judgments(sessions, run_id)
        assert {j.status for j in finished} == {JudgmentStatus.DONE}
        assert {j.error_kind for j in finished} == {None}
        assert batches(sessions, run_id)[1].succeeded == first.errored
        assert simulator_stats(provider)["batch_errors"] == first.errored


def test_a_judgment_that_keeps_erroring_fails_with_batch_error(
    pg_url: str,
    provider: BackgroundServer,
    sessions: sessionmaker[Session],
    batch_run: BatchRuns,
) -> None:
    judges = simulated_judges(provider.url)
    judges["sim"]["model"] = "simulated-judge@batch_error_rate=1,persistent_faults=1"
    settings = Settings(database_url=pg_url, judges=judges, batch_max_attempts=2)
    run_id = batch_run(["sim"], pairs=2)
    for _round in range(2):
        batch_step(settings, sessions)
        release(provider, sessions)
    batch_step(settings, sessions)
    failed = judgments(sessions, run_id)
    assert {(j.status, j.error_kind, j.attempts) for j in failed} == {
        (JudgmentStatus.FAILED, BATCH_ERROR, 2)
    }
    assert all((j.error or "").startswith("HTTP 500: server_error in batch") for j in failed)
    assert len(batches(sessions, run_id)) == 2
    assert not batch_step(settings, sessions)  # nothing left to send


def test_a_batch_the_provider_lost_gives_its_judgments_back(
    pg_url: str,
    provider: BackgroundServer,
    sessions: sessionmaker[Session],
    batch_run: BatchRuns,
) -> None:
    settings = settings_for(pg_url, provider)
    run_id = batch_run(["sim-anthropic"], pairs=2)
    batch_step(settings, sessions)
    with sessions.begin() as session:
        session.execute(
            update(ProviderBatch)
            .where(ProviderBatch.run_id == run_id)
            .values(provider_batch_id="msgbatch_forgotten")
        )
    step = batch_step(settings, sessions)
    assert (step.lost, step.submitted) == (1, 1)
    lost, resent = batches(sessions, run_id)
    assert lost.status == BatchStatus.LOST and "msgbatch_forgotten" in (lost.error or "")
    assert resent.requests == 4
    release(provider, sessions)
    batch_step(settings, sessions)
    assert {j.status for j in judgments(sessions, run_id)} == {JudgmentStatus.DONE}


def test_a_submit_abandoned_midway_is_recovered(
    pg_url: str,
    provider: BackgroundServer,
    sessions: sessionmaker[Session],
    batch_run: BatchRuns,
) -> None:
    """A worker died after recording a batch and claiming for it, before the provider had it."""
    settings = settings_for(pg_url, provider)
    run_id = batch_run(["sim"], pairs=2)
    with sessions.begin() as session:
        dead = ProviderBatch(
            run_id=run_id,
            judge="sim",
            provider="openai",
            claim_token="dead-token",
            poll_after=utcnow() - timedelta(seconds=1),
        )
        session.add(dead)
        session.flush()
        session.execute(
            update(Judgment)
            .where(Judgment.run_id == run_id)
            .values(
                status=JudgmentStatus.RUNNING,
                claim_token="dead-token",
                batch_id=dead.id,
                attempts=1,
                lease_expires_at=utcnow() + timedelta(days=1),
            )
        )
    step = batch_step(settings, sessions)
    assert (step.lost, step.submitted, step.requests) == (1, 1, 4)
    abandoned, resent = batches(sessions, run_id)
    assert abandoned.status == BatchStatus.LOST and abandoned.provider_batch_id is None
    assert resent.status == BatchStatus.IN_PROGRESS
    release(provider, sessions)
    batch_step(settings, sessions)
    assert {(j.status, j.attempts) for j in judgments(sessions, run_id)} == {
        (JudgmentStatus.DONE, 2)
    }


def test_reconcile_never_queues_a_batch_run_live(
    pg_url: str, sessions: sessionmaker[Session], batch_run: BatchRuns
) -> None:
    run_id = batch_run(["sim"], pairs=2)
    with sessions.begin() as session:
        session.execute(
            update(Judgment)
            .where(Judgment.run_id == run_id)
            .values(created_at=utcnow() - timedelta(days=2))
        )
    settings = Settings(database_url=pg_url)
    dispatcher = InProcessDispatcher(settings)
    try:
        assert reconcile(sessions, dispatcher, settings.lease_s, run_id) == 0
        assert reconcile(sessions, dispatcher, settings.lease_s, run_id, everything=True) == 0
    finally:
        dispatcher.close()
    assert {j.status for j in judgments(sessions, run_id)} == {JudgmentStatus.PENDING}


def test_a_judge_no_longer_configured_fails_its_judgments_as_in_live_mode(
    pg_url: str,
    provider: BackgroundServer,
    sessions: sessionmaker[Session],
    batch_run: BatchRuns,
) -> None:
    run_id = batch_run(["gone"], pairs=1)
    batch_step(settings_for(pg_url, provider), sessions)
    assert {(j.status, j.error_kind) for j in judgments(sessions, run_id)} == {
        (JudgmentStatus.FAILED, "config_error")
    }
    assert batches(sessions, run_id) == []


def test_batch_judgments_store_their_cost_at_the_batch_discount(
    pg_url: str,
    provider: BackgroundServer,
    sessions: sessionmaker[Session],
    batch_run: BatchRuns,
) -> None:
    prices = {"input_usd_per_mtok": 3.0, "output_usd_per_mtok": 15.0}
    judges = {name: {**judge, **prices} for name, judge in simulated_judges(provider.url).items()}
    settings = Settings(database_url=pg_url, judges=judges)
    run_id = batch_run(["sim"], pairs=2)
    batch_step(settings, sessions)
    release(provider, sessions)
    batch_step(settings, sessions)
    done = judgments(sessions, run_id)
    assert {j.status for j in done} == {JudgmentStatus.DONE}
    config = settings.all_judges["sim"]
    for judgment in done:
        assert judgment.input_tokens and judgment.output_tokens
        live = (judgment.input_tokens * 3.0 + judgment.output_tokens * 15.0) / 1e6
        assert judgment.cost_usd == pytest.approx(live * 0.5)  # default batch_discount
        assert judgment.cost_usd == pytest.approx(
            config.cost_usd(judgment.input_tokens, judgment.output_tokens, batch=True)
        )


def test_a_batch_run_takes_what_the_judgment_cache_holds_and_sends_no_batch(
    pg_url: str,
    provider: BackgroundServer,
    sessions: sessionmaker[Session],
    batch_run: BatchRuns,
) -> None:
    settings = settings_for(pg_url, provider)
    # A snapshot of the judge's configuration, as the API records: what the key is made of.
    snapshot = {"sim": settings.all_judges["sim"].fingerprint()}
    first = batch_run(["sim"], pairs=2, judge_configs=snapshot)
    batch_step(settings, sessions)
    release(provider, sessions)
    batch_step(settings, sessions)
    judged = {j.id: j for j in judgments(sessions, first)}
    assert {j.status for j in judged.values()} == {JudgmentStatus.DONE}

    again = batch_run(["sim"], pairs=2, judge_configs=snapshot)
    sent = simulator_stats(provider)["batch_requests"]
    step = batch_step(settings, sessions)
    assert (step.submitted, step.requests) == (0, 0)
    assert simulator_stats(provider)["batch_requests"] == sent
    assert batches(sessions, again) == []
    copies = judgments(sessions, again)
    assert len(copies) == 4
    for copy in copies:
        source = judged[copy.cached_from_id or 0]
        assert (copy.status, copy.verdict) == (JudgmentStatus.DONE, source.verdict)
        assert (copy.input_tokens, copy.cost_usd, copy.batch_id) == (0, 0.0, None)
