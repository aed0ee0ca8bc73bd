"""Batch mode: a run's judgments go to the providers' batch APIs, submitted and polled here.

Every RQ worker runs `batch_step` in its own loop, beside the reconcile, every
`JUDGE_RECONCILE_INTERVAL_S` (jobs/worker.py), rather than in jobs scheduled with RQ's
`enqueue_in`: a batch lives up to 24 hours and its whole state is in PostgreSQL
(`provider_batches`), so nothing in Redis has to survive for it to be polled; any
worker, including one started after the submitter died, takes up where the last one
stopped; and conditional UPDATEs let every worker run the step at once without doing
anything twice.

One step:
1. Recover: a batch recorded but not accepted by the provider within two leases (its
   submitter died mid-submit) is lost, and its judgments go back to pending.
2. Poll each batch in progress, at most once per half interval across all workers. Once
   it has ended, its answers are mapped back by custom id (`j<judgment id>_<claim
   token>`) and written, with the batch's counts, in one transaction; every write is
   conditioned on the claim the request was sent under, so a late, repeated or stale
   answer changes nothing (a judgment already done is never written again). What did not
   succeed (an error, an expired or missing request, an unreadable reply) goes back to
   pending for the next batch, or fails once it has been in `batch_max_attempts` batches
   (`batch_error`, or the reply's own `parse_error` / `truncated`). A batch the provider
   no longer knows is lost, and its judgments go back the same way.
3. Submit: for each judge of each batch-mode run with judgments to judge, record a batch
   and claim up to `batch_max_requests` of them under its token in one transaction (the
   lease is the 24 h window plus a job's lease, so neither the reconciler nor another
   submitter takes them), render each prompt with a boundary code derived from the token
   and the judgment id (so the poller rebuilds the exact prompt that was sent), submit,
   then record the provider's batch id.

A worker that dies after the provider accepted a batch but before its id was recorded
leaves that batch unpolled: its judgments are sent again in a new batch (paid twice,
stored once).
"""

import hashlib
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from sqlalchemy import ColumnElement, case, select, update
from sqlalchemy.orm import Session, sessionmaker

from judge_service.config import JudgeConfig, Settings
from judge_service.db.engine import rows_matched
from judge_service.db.models import (
    BatchStatus,
    Judgment,
    JudgmentStatus,
    ProviderBatch,
    Run,
    RunMode,
    utcnow,
)
from judge_service.jobs.cache import reuse_in
from judge_service.jobs.claims import Result, WorkItem, claimable, store_in, work_items
from judge_service.jobs.judge_pairs import first_call, interpret
from judge_service.judging.batches import (
    BATCH_WINDOW_S,
    Answer,
    BatchClient,
    BatchNotFound,
    batch_client,
)
from judge_service.judging.providers import describe_error

log = logging.getLogger(__name__)

BATCH_ERROR = "batch_error"
MAX_BATCH_BYTES = 100 * 1024 * 1024
"""Well under OpenAI's 200 MB per input file and Anthropic's 256 MB per batch."""
_REQUEST_OVERHEAD_BYTES = 4096  # JSON framing, schema, settings: generous per request


@dataclass(frozen=True)
class _Polled:
    """A batch taken for a look (read before its session closed)."""

    id: int
    judge: str
    provider_batch_id: str
    claim_token: str
    provider_status: str | None


@dataclass(frozen=True)
class StepSummary:
    submitted: int = 0  # batches the providers accepted
    requests: int = 0  # judgments in them
    ended: int = 0  # batches whose answers were mapped back
    lost: int = 0  # batches given up: unknown to the provider, refused, or abandoned

    def __bool__(self) -> bool:
        return any((self.submitted, self.ended, self.lost))


def custom_id(judgment_id: int, token: str) -> str:
    """What a request is known by in its batch: the judgment and the claim it was sent under."""
    return f"j{judgment_id}_{token}"


def parse_custom_id(value: str) -> tuple[int, str] | None:
    head, sep, token = value.partition("_")
    if not sep or not head.startswith("j") or not head[1:].isdigit():
        return None
    return int(head[1:]), token


def batch_boundary(token: str, judgment_id: int) -> str:
    """A judgment's boundary code in a batch: unguessable (the token is random), and rebuilt
    the same when the answer comes back, so the stored prompt hash names what was sent."""
    return hashlib.sha256(f"{token}:{judgment_id}".encode()).hexdigest()[:16]


def batch_step(settings: Settings, sessions: sessionmaker[Session]) -> StepSummary:
    """Recover, poll, submit: one round of batch mode (every worker, every interval)."""
    abandoned = recover_abandoned(settings, sessions)
    clients: dict[str, BatchClient] = {}
    try:
        ended, lost = poll(settings, sessions, clients)
        submitted, requests, refused = submit(settings, sessions, clients)
    finally:
        for client in clients.values():
            client.close()
    return StepSummary(submitted, requests, ended, abandoned + lost + refused)


def _client(clients: dict[str, BatchClient], name: str, config: JudgeConfig) -> BatchClient:
    if name not in clients:
        clients[name] = batch_client(config)
    return clients[name]


def _give_back(
    session: Session, held: ColumnElement[bool], kind: str, message: str, max_attempts: int
) -> int:
    """Claims in `held` back to pending for the next batch, or failed with `kind` once they
    have been in `max_attempts` batches."""
    final = Judgment.attempts >= max_attempts
    return rows_matched(
        session,
        update(Judgment)
        .where(held)
        .values(
            status=case((final, JudgmentStatus.FAILED), else_=JudgmentStatus.PENDING),
            finished_at=case((final, utcnow()), else_=None),
            claim_token=None,
            lease_expires_at=None,
            error_kind=kind,
            error=message,
        )
        .execution_options(synchronize_session=False),
    )


def _held_by(batch_id: int, token: str) -> ColumnElement[bool]:
    return (Judgment.batch_id == batch_id) & (Judgment.claim_token == token)


def _close(
    session: Session, batch_id: int, was: BatchStatus, now_is: BatchStatus, **values: object
) -> bool:
    """Move a batch on if nobody did first (the row lock orders concurrent pollers)."""
    moved = rows_matched(
        session,
        update(ProviderBatch)
        .where(ProviderBatch.id == batch_id, ProviderBatch.status == was)
        .values(status=now_is, finished_at=utcnow(), **values)
        .execution_options(synchronize_session=False),
    )
    return moved == 1


def recover_abandoned(settings: Settings, sessions: sessionmaker[Session]) -> int:
    """Batches whose submitter died before the provider accepted them: lost, claims back."""
    message = "the worker submitting this batch stopped before the provider accepted it"
    with sessions.begin() as session:
        abandoned = session.execute(
            update(ProviderBatch)
            .where(
                ProviderBatch.status == BatchStatus.SUBMITTING,
                ProviderBatch.poll_after < utcnow(),
            )
            .values(status=BatchStatus.LOST, error=message, finished_at=utcnow())
            .returning(ProviderBatch.id, ProviderBatch.claim_token)
            .execution_options(synchronize_session=False)
        ).all()
        for batch_id, token in abandoned:
            held = _held_by(batch_id, token)
            _give_back(session, held, BATCH_ERROR, message, settings.batch_max_attempts)
    return len(abandoned)


def poll(
    settings: Settings, sessions: sessionmaker[Session], clients: dict[str, BatchClient]
) -> tuple[int, int]:
    """Ask about every batch due a look; map back those that ended. Returns (ended, lost)."""
    now = utcnow()
    with sessions.begin() as session:
        due = session.execute(
            update(ProviderBatch)
            .where(ProviderBatch.status == BatchStatus.IN_PROGRESS, ProviderBatch.poll_after <= now)
            .values(poll_after=now + timedelta(seconds=settings.reconcile_interval_s / 2))
            .returning(
                ProviderBatch.id,
                ProviderBatch.judge,
                ProviderBatch.provider_batch_id,
                ProviderBatch.claim_token,
                ProviderBatch.provider_status,
            )
            .execution_options(synchronize_session=False)
        ).all()
        batches = []
        for batch_id, judge, provider_batch_id, token, provider_status in due:
            assert provider_batch_id is not None  # set when the batch went in progress
            batches.append(_Polled(batch_id, judge, provider_batch_id, token, provider_status))
    ended = lost = 0
    for batch in batches:
        config = settings.all_judges.get(batch.judge)
        if config is None:
            log.warning("batch %s: judge %r is not configured; not polled", batch.id, batch.judge)
            continue
        try:
            outcome = _poll_one(settings, sessions, _client(clients, batch.judge, config), batch)
        except Exception as exc:
            # The provider or the network failed us: the next look tries again.
            log.warning("batch %s (%s): poll failed: %r", batch.id, batch.provider_batch_id, exc)
            continue
        ended += outcome == BatchStatus.ENDED
        lost += outcome == BatchStatus.LOST
    return ended, lost


def _poll_one(
    settings: Settings, sessions: sessionmaker[Session], client: BatchClient, batch: _Polled
) -> BatchStatus | None:
    """The batch's new status if it ended or was lost; None while it is in progress."""
    try:
        state = client.state(batch.provider_batch_id)
    except BatchNotFound:
        message = f"the provider does not know batch {batch.provider_batch_id}"
        with sessions.begin() as session:
            if _close(session, batch.id, BatchStatus.IN_PROGRESS, BatchStatus.LOST, error=message):
                held = _held_by(batch.id, batch.claim_token)
                _give_back(session, held, BATCH_ERROR, message, settings.batch_max_attempts)
        return BatchStatus.LOST
    if not state.ended:
        if state.status != batch.provider_status:
            with sessions.begin() as session:
                session.execute(
                    update(ProviderBatch)
                    .where(ProviderBatch.id == batch.id)
                    .values(provider_status=state.status)
                )
        return None
    answers = list(client.answers(batch.provider_batch_id, state))
    with sessions.begin() as session:
        closed = _close(
            session,
            batch.id,
            BatchStatus.IN_PROGRESS,
            BatchStatus.ENDED,
            provider_status=state.status,
            error=state.error,
        )
        if closed:
            _map_back(settings, session, batch, answers, state.error)
    return BatchStatus.ENDED if closed else None


def _map_back(
    settings: Settings,
    session: Session,
    batch: _Polled,
    answers: Sequence[Answer],
    batch_error: str | None,
) -> None:
    """Store each answer under the claim it was sent with; what did not succeed goes back."""
    token, limit = batch.claim_token, settings.batch_max_attempts
    rows = session.execute(select(Judgment.id, Judgment.attempts).where(_held_by(batch.id, token)))
    attempts = {judgment_id: count for judgment_id, count in rows}
    boundary = partial(batch_boundary, token)
    items = {
        item.judgment_id: item
        for item in work_items(session, list(attempts), settings.all_judges, boundary)
    }
    succeeded = stale = 0
    finished: list[tuple[WorkItem, Result]] = []
    for answer in answers:
        parsed = parse_custom_id(answer.custom_id)
        item = items.pop(parsed[0], None) if parsed and parsed[1] == token else None
        if item is None:
            stale += 1  # not this batch's claim (any more): already done, or sent again
            continue
        if answer.reply is None:
            message = f"{answer.error} in batch {batch.provider_batch_id}"
            _give_back(session, _one(item, token), BATCH_ERROR, message, limit)
            continue
        result = interpret([answer.reply], item)
        if result.status is JudgmentStatus.DONE:
            succeeded += 1
            finished.append((item, result))
        elif attempts[item.judgment_id] >= limit:
            finished.append((item, result))
        else:
            kind = result.error_kind or BATCH_ERROR
            _give_back(session, _one(item, token), kind, result.error or kind, limit)
    store_in(session, token, finished, batch=True)
    if items:
        message = batch_error or f"no answer in batch {batch.provider_batch_id}"
        held = Judgment.id.in_(list(items)) & (Judgment.claim_token == token)
        _give_back(session, held, BATCH_ERROR, message, limit)
    if stale:
        log.info("batch %s: %d answers for claims it no longer holds, ignored", batch.id, stale)
    session.execute(
        update(ProviderBatch)
        .where(ProviderBatch.id == batch.id)
        .values(succeeded=succeeded, errored=len(attempts) - succeeded)
    )


def _one(item: WorkItem, token: str) -> ColumnElement[bool]:
    return (Judgment.id == item.judgment_id) & (Judgment.claim_token == token)


def submit(
    settings: Settings, sessions: sessionmaker[Session], clients: dict[str, BatchClient]
) -> tuple[int, int, int]:
    """A batch per judge of each batch-mode run with judgments to judge.

    Returns (batches accepted, judgments in them, batches refused).
    """
    with sessions() as session:
        groups = session.execute(
            select(Judgment.run_id, Judgment.judge)
            .join(Run, Run.id == Judgment.run_id)
            .where(Run.mode == RunMode.BATCH, claimable(utcnow()))
            .distinct()
            .order_by(Judgment.run_id, Judgment.judge)
        ).all()
    accepted = sent = refused = 0
    for run_id, judge in groups:
        config = settings.all_judges.get(judge)
        if config is None:
            _fail_unconfigured(sessions, run_id, judge)
            continue
        count = _submit_one(settings, sessions, _client(clients, judge, config), run_id, judge)
        if count > 0:
            accepted, sent = accepted + 1, sent + count
        elif count < 0:
            refused += 1
    return accepted, sent, refused


def _fail_unconfigured(sessions: sessionmaker[Session], run_id: int, judge: str) -> None:
    """As in live mode: a judge the workers do not know fails its judgments, saying so."""
    with sessions.begin() as session:
        session.execute(
            update(Judgment)
            .where(Judgment.run_id == run_id, Judgment.judge == judge, claimable(utcnow()))
            .values(
                status=JudgmentStatus.FAILED,
                claim_token=None,
                lease_expires_at=None,
                finished_at=utcnow(),
                error_kind="config_error",
                error=f"judge {judge!r} is not configured",
            )
            .execution_options(synchronize_session=False)
        )


def _submit_one(
    settings: Settings,
    sessions: sessionmaker[Session],
    client: BatchClient,
    run_id: int,
    judge: str,
) -> int:
    """Record, claim, render, submit, record the id. Returns the judgments sent, 0 when
    there was nothing left to claim, -1 when the provider refused the batch."""
    token = uuid.uuid4().hex
    now = utcnow()
    config = settings.all_judges[judge]
    with sessions.begin() as session:
        batch = ProviderBatch(
            run_id=run_id,
            judge=judge,
            provider=config.provider,
            claim_token=token,
            status=BatchStatus.SUBMITTING,
            poll_after=now + timedelta(seconds=2 * settings.lease_s),
        )
        session.add(batch)
        session.flush()
        batch_id = batch.id
        claimed = _claim(session, settings, run_id, judge, token, batch_id)
        if not claimed:
            session.delete(batch)  # another worker claimed them first
            return 0
        items = work_items(session, claimed, settings.all_judges, partial(batch_boundary, token))
        items, _copied = reuse_in(session, items, token)
        if not items:
            session.delete(batch)  # the judgment cache answered every one
            return 0
        fitting = _fitting(items)
        if len(fitting) < len(items):
            _unclaim(session, [item.judgment_id for item in items[len(fitting) :]], token)
    requests = [(custom_id(item.judgment_id, token), first_call(item)) for item in fitting]
    label = f"judge-service-batch-{batch_id}"
    try:
        provider_batch_id = client.submit(requests, label)
    except Exception as exc:
        _kind, message = describe_error(exc)
        log.warning("batch %s of run %s (%s): submit refused: %s", batch_id, run_id, judge, message)
        with sessions.begin() as session:
            error = f"submit failed: {message}"
            if _close(session, batch_id, BatchStatus.SUBMITTING, BatchStatus.LOST, error=error):
                held = _held_by(batch_id, token)
                _give_back(session, held, BATCH_ERROR, error, settings.batch_max_attempts)
        return -1
    with sessions.begin() as session:
        recorded = rows_matched(
            session,
            update(ProviderBatch)
            .where(ProviderBatch.id == batch_id, ProviderBatch.status == BatchStatus.SUBMITTING)
            .values(
                status=BatchStatus.IN_PROGRESS,
                provider_batch_id=provider_batch_id,
                requests=len(requests),
                submitted_at=utcnow(),
                poll_after=utcnow(),
            ),
        )
    if not recorded:
        # Given up as abandoned while we were submitting: its judgments went in another batch.
        log.warning("batch %s was given up during its submit; cancelling it", batch_id)
        try:
            client.cancel(provider_batch_id)
        except Exception as exc:
            log.warning("could not cancel orphaned batch %s: %r", provider_batch_id, exc)
        return 0
    log.info("batch %s of run %s (%s): %d requests", batch_id, run_id, judge, len(requests))
    return len(requests)


def _claim(
    session: Session, settings: Settings, run_id: int, judge: str, token: str, batch_id: int
) -> list[int]:
    """Claim up to `batch_max_requests` judgments for the batch, each under its token."""
    now = utcnow()
    mine = (Judgment.run_id == run_id) & (Judgment.judge == judge) & claimable(now)
    oldest = (
        select(Judgment.id).where(mine).order_by(Judgment.id).limit(settings.batch_max_requests)
    )
    return list(
        session.scalars(
            update(Judgment)
            # `mine` again: a row another submitter claimed meanwhile is re-checked and skipped.
            .where(Judgment.id.in_(oldest.scalar_subquery()), mine)
            .values(
                status=JudgmentStatus.RUNNING,
                claim_token=token,
                lease_expires_at=now + timedelta(seconds=BATCH_WINDOW_S + settings.lease_s),
                attempts=Judgment.attempts + 1,
                started_at=now,
                batch_id=batch_id,
            )
            .returning(Judgment.id)
            .execution_options(synchronize_session=False)
        )
    )


def _fitting(items: list[WorkItem]) -> list[WorkItem]:
    """The first items whose requests fit in one batch (at least one)."""
    total = 0
    for count, item in enumerate(items):
        prompt = item.prompt
        total += len(prompt.system) + len(prompt.user) + sum(map(len, item.images))
        total += _REQUEST_OVERHEAD_BYTES
        if total > MAX_BATCH_BYTES and count:
            return items[:count]
    return items


def _unclaim(session: Session, judgment_ids: list[int], token: str) -> None:
    """Hand back claims that did not fit, as if they had never been made."""
    session.execute(
        update(Judgment)
        .where(Judgment.id.in_(judgment_ids), Judgment.claim_token == token)
        .values(
            status=JudgmentStatus.PENDING,
            claim_token=None,
            lease_expires_at=None,
            attempts=Judgment.attempts - 1,
            batch_id=None,
        )
        .execution_options(synchronize_session=False)
    )
