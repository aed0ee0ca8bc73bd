"""The job: judge every pending judgment of a chunk of pairs, concurrently.

The same function runs under RQ (`judge_pairs`, in the forked work horse) and
on the in-process executor (`judge_chunk`). It is synchronous on the outside
and runs one asyncio loop inside, with the async SDK clients created in that
loop: the pattern that is safe under RQ's forking worker. The loop's timers fall due on a
grid (`jobs/job_loop.py`), so calls paced by a rate limit start in bunches. Once every call
of the job has gone out, it claims more of its runs' work (`_refill`), so its worker keeps
sending while the replies come in. Once the chunk is stored, a run with a stop rule is
checked (`jobs/stopping.py`).
"""

import asyncio
import logging
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from judge_service.config import JudgeConfig, Settings
from judge_service.db.engine import session_factory
from judge_service.db.models import JudgmentStatus
from judge_service.jobs.backlog import Backlog
from judge_service.jobs.cache import reuse_cached
from judge_service.jobs.claims import (
    Result,
    WorkItem,
    claim,
    claim_more,
    patiently,
    release,
    store_many,
)
from judge_service.jobs.heartbeat import Heartbeat
from judge_service.jobs.job_loop import JobLoop
from judge_service.jobs.stopping import stop_decided
from judge_service.judging.concurrency import AdaptiveConcurrency
from judge_service.judging.endpoints import Endpoint, EndpointPool
from judge_service.judging.paced import PacedJudge
from judge_service.judging.protocol import (
    ParsedVerdict,
    VerdictParseError,
    parse_structured,
    parse_text,
    verdict_schema,
)
from judge_service.judging.providers import JudgeCall, describe_error, make_provider
from judge_service.judging.rate_limits import RateBudgets
from judge_service.judging.replies import JudgeReply
from judge_service.judging.rubrics import OVERALL
from judge_service.judging.throttling import ThrottleCounter
from judge_service.judging.verdicts import to_verdict

log = logging.getLogger(__name__)
FOLLOW_UP_SEPARATOR = "\n\n----- follow-up reply -----\n\n"
OUTCOMES = ("done", "failed", "lost")  # of a claimed judgment's result; else it was released
# How long a finished call's result may wait for others to share its write. One write per
# result cost a third of a judgment's CPU where replies trickle in (a provider's rate limit
# paces them), and a write every 0.25 s still cost 0.5 ms a judgment more than one a second
# at 3,000 requests/min; a result keeps its judge's slot while it waits, so a worker killed
# at any moment still leaves at most one call per slot to make again.
WRITE_WINDOW_S = 1.0
# A call's item, its result (None: not called, the job was stopping), and the judge's slot
# it holds until the result is stored (None: it took none).
Finished = tuple[WorkItem, Result | None, AdaptiveConcurrency | None]


@dataclass(frozen=True)
class ChunkSummary:
    claimed: int
    done: int
    failed: int
    lost: int
    released: int = 0


def judge_pairs(pair_ids: list[int]) -> dict[str, int]:
    """RQ entry point: settings and the database engine are made here, after the fork.

    SIGTERM (the worker's warm shutdown passes it on) stops the chunk early instead
    of killing the horse: calls in flight are stored, the rest released.
    """
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())
    try:
        summary = judge_chunk(Settings(), pair_ids, stop)
    finally:
        signal.signal(signal.SIGTERM, previous)
    return summary.__dict__


def judge_chunk(
    settings: Settings, pair_ids: list[int], stop: threading.Event | None = None
) -> ChunkSummary:
    """Claim, judge, store, renewing the claims meanwhile (`jobs/heartbeat.py`); database
    calls wait out an outage for up to the job's timeout."""
    sessions = session_factory(settings.database_url)
    token = uuid.uuid4().hex
    window = settings.job_timeout_s
    lease = settings.claim_lease_s
    claimed = patiently(window, claim, sessions, pair_ids, token, lease, settings.all_judges)
    if not claimed:
        return ChunkSummary(0, 0, 0, 0)
    _log_claimed(claimed)
    stop = stop or threading.Event()
    outcomes: Counter[tuple[int, str]] = Counter()
    totals: Counter[str] = Counter()
    with Heartbeat(settings, sessions, token) as heartbeat:
        heartbeat.hold(claimed)
        refill = _refill(settings, sessions, token, claimed, stop, heartbeat)
        try:
            items, copied = patiently(window, reuse_cached, sessions, claimed, token)
            heartbeat.let_go(copied)
            outcomes.update((item.run_id, "done") for item in copied)
            with asyncio.Runner(loop_factory=JobLoop) as runner:
                runner.run(
                    _judge_all(items, settings, sessions, token, stop, outcomes, refill, heartbeat)
                )
        finally:
            # Only non-empty when interrupted (job timeout, SIGTERM): give the rest back.
            released = patiently(window, release, sessions, token)
            for run_id, run_items in _by_run(claimed).items():
                counts = {outcome: outcomes[run_id, outcome] for outcome in OUTCOMES}
                totals.update(counts)
                counts["released"] = len(run_items) - sum(counts.values())
                log.info("chunk judged", extra=_run_fields(run_id, run_items) | counts)
    # Its runs with a stop rule: the sequence changed only if the chunk stored an outcome.
    deciding = sorted({item.run_id for item in claimed if item.stops})
    if deciding and totals["done"]:
        patiently(window, stop_decided, sessions, deciding)
    return ChunkSummary(len(claimed), totals["done"], totals["failed"], totals["lost"], released)


def _refill(
    settings: Settings,
    sessions: sessionmaker[Session],
    token: str,
    claimed: list[WorkItem],
    stop: threading.Event,
    heartbeat: Heartbeat,
) -> Callable[[], tuple[list[WorkItem], list[WorkItem]]]:
    """How a job claims more of its runs' work once its own calls have all gone out.

    Each refill claims as much again as the chunk did (at least `chunk_size` pairs' worth
    for one judge), adds it to `claimed`, and returns (to call, answered by the cache), as
    `reuse_cached` does; nothing to call means nothing is left, a stop was asked, or it is
    too late: only while its slowest possible call would still end within half the job's
    timeout, the other half being for the queue at the judges' rate budgets. Runs in a thread.
    """
    window = settings.job_timeout_s
    run_ids = sorted({item.run_id for item in claimed})
    limit = max(len(claimed), 2 * settings.chunk_size)
    configs = [settings.all_judges.get(item.judge) for item in claimed]
    slowest = max((config.worst_case_call_s for config in configs if config), default=0.0)
    until = time.monotonic() + settings.job_timeout_s / 2 - slowest

    def more() -> tuple[list[WorkItem], list[WorkItem]]:
        to_call: list[WorkItem] = []
        copied: list[WorkItem] = []
        while not to_call and time.monotonic() < until and not stop.is_set():
            fresh = patiently(
                window,
                claim_more,
                sessions,
                run_ids,
                token,
                settings.claim_lease_s,
                settings.all_judges,
                limit,
            )
            if not fresh:
                break
            heartbeat.hold(fresh)
            claimed.extend(fresh)
            _log_claimed(fresh)
            to_call, answered = patiently(window, reuse_cached, sessions, fresh, token)
            heartbeat.let_go(answered)
            copied += answered
        return to_call, copied

    return more


def _log_claimed(items: list[WorkItem]) -> None:
    for run_id, run_items in _by_run(items).items():
        log.info("claimed %d judgments", len(run_items), extra=_run_fields(run_id, run_items))


def _by_run(items: list[WorkItem]) -> dict[int, list[WorkItem]]:
    runs: dict[int, list[WorkItem]] = {}
    for item in items:
        runs.setdefault(item.run_id, []).append(item)
    return runs


def _run_fields(run_id: int, items: list[WorkItem]) -> dict[str, Any]:
    """The ids a line about one run's part of a chunk carries."""
    return {
        "run_id": run_id,
        "pair_ids": sorted({item.pair_id for item in items}),
        "judges": sorted({item.judge for item in items}),
        "claimed": len(items),
    }


def parse_reply(reply: JudgeReply, item: WorkItem) -> ParsedVerdict:
    if reply.truncated:
        raise VerdictParseError("the reply was cut off at max_tokens")
    criteria = list(item.criteria)
    if item.structured:
        data = reply.structured if reply.structured is not None else reply.text
        return parse_structured(data, criteria, item.scale)
    return parse_text(reply.text, criteria, item.scale)


def interpret(replies: list[JudgeReply], item: WorkItem) -> Result:
    """The stored result of one judgment from its reply, or its reply and the follow-up's."""
    last = replies[-1]
    common: dict[str, Any] = {
        "judge_model": last.model,
        "raw_response": FOLLOW_UP_SEPARATOR.join(reply.text for reply in replies),
        "input_tokens": _total(reply.input_tokens for reply in replies),
        "output_tokens": _total(reply.output_tokens for reply in replies),
        "cached_input_tokens": _total(reply.cached_input_tokens for reply in replies),
        "reasoning_tokens": _total(reply.reasoning_tokens for reply in replies),
        "system_fingerprint": last.system_fingerprint,
        "thinking": FOLLOW_UP_SEPARATOR.join(r.thinking for r in replies if r.thinking) or None,
        "latency_ms": _total(reply.latency_ms for reply in replies),
    }
    try:
        parsed = parse_reply(last, item)
    except VerdictParseError as exc:
        # A reply cut off at max_tokens asks for a larger max_tokens, not a better parser.
        kind = "truncated" if last.truncated else "parse_error"
        return Result(JudgmentStatus.FAILED, error_kind=kind, error=str(exc), **common)
    axes = {
        name: {
            "label": ruling.label,
            "verdict": to_verdict(ruling.slot, item.order),
            "strong": ruling.strong,
            "rationale": ruling.rationale,
        }
        for name, ruling in parsed.rulings.items()
        if name != OVERALL
    }
    overall = parsed.overall
    return Result(
        JudgmentStatus.DONE,
        label=overall.label,
        verdict=to_verdict(overall.slot, item.order),
        strong=overall.strong,
        rationale=overall.rationale,
        axes=axes or None,
        **common,
    )


def _total(values: Iterable[int | None]) -> int | None:
    known = [value for value in values if value is not None]
    return sum(known) if known else None


def first_call(item: WorkItem) -> JudgeCall:
    """The call for a judgment: its prompt and images, and the verdict schema if structured."""
    schema = verdict_schema(list(item.criteria), item.scale) if item.structured else None
    return JudgeCall(item.prompt, item.images, schema)


async def call_judge(
    judge: PacedJudge, item: WorkItem, sent: Callable[[], None]
) -> list[JudgeReply]:
    """One call, and one follow-up if its reply carries no readable verdict."""
    call = first_call(item)
    first = await judge.complete(call, sent)
    try:
        parse_reply(first, item)
        return [first]
    except VerdictParseError:
        # Structured output has no turn to follow up on: the same request is asked again.
        retry = call if item.structured else replace(call, previous_reply=first.text)
        return [first, await judge.complete(retry)]


def _failure(kind: str, message: str) -> Result:
    return Result(JudgmentStatus.FAILED, error_kind=kind, error=message)


async def _judge_all(
    items: list[WorkItem],
    settings: Settings,
    sessions: sessionmaker[Session],
    token: str,
    stop: threading.Event,
    outcomes: Counter[tuple[int, str]],
    refill: Callable[[], tuple[list[WorkItem], list[WorkItem]]],
    heartbeat: Heartbeat,
) -> None:
    """Judge every item and every refill's, counting each stored result in `outcomes` as
    (run id, outcome)."""
    throttles = ThrottleCounter(settings.redis_url, settings.queue_name)
    budgets = RateBudgets(settings.redis_url, settings.queue_name)
    judges: dict[str, PacedJudge | Result] = {}

    def judge_for(name: str) -> PacedJudge | Result:
        """The judge's paced client and slots, made at its first call; or why it has none."""
        if name not in judges:
            judges[name] = _make_judge(name, settings, throttles, budgets)
        return judges[name]

    async def one(item: WorkItem, leave: Callable[[], None]) -> Finished:
        """The item's result, or None when asked to stop before its call started.

        A called judge's slot stays taken until the writer has stored the result.
        """
        try:
            judge = judge_for(item.judge)
            if isinstance(judge, Result):
                return item, judge, None
            limit = judge.concurrency
            await limit.acquire()
            try:
                if stop.is_set():
                    await limit.release()
                    return item, None, None
                replies = await call_judge(judge, item, leave)
            except Exception as exc:
                log.warning("judge call failed: %r", exc, extra=item.log_fields)
                return item, _failure(*describe_error(exc)), limit
            except BaseException:
                await limit.release()
                raise
        finally:
            leave()
        result = interpret(replies, item)
        if result.status is JudgmentStatus.FAILED:
            log.warning("judge reply unusable: %s", result.error, extra=item.log_fields)
        return item, result, limit

    # Calls (and a refill while it claims) report to a queue as they finish; `asyncio.wait`
    # on the pending set instead walked every call in flight at each write, quadratic in a
    # chunk's size.
    finished: asyncio.Queue[asyncio.Future[Finished | None]] = asyncio.Queue()
    calls: set[asyncio.Future[Finished | None]] = set()
    refilling: asyncio.Future[Finished | None] | None = None
    exhausted = False

    def launch(future: asyncio.Future[Finished | None]) -> None:
        calls.add(future)
        future.add_done_callback(finished.put_nowait)

    def start(batch: list[WorkItem]) -> None:
        for item in batch:
            launch(asyncio.ensure_future(one(item, backlog.join())))

    async def refill_now() -> Finished | None:
        """Reports to the queue like a call, with no entry of its own."""
        nonlocal exhausted
        to_call, copied = await asyncio.to_thread(refill)
        outcomes.update((item.run_id, "done") for item in copied)
        exhausted = not to_call
        start(to_call)
        return None

    def emptied() -> None:
        """Every call has gone out: claim more while the replies come in, one refill at a time."""
        nonlocal refilling
        if not exhausted and not stop.is_set() and (refilling is None or refilling.done()):
            refilling = asyncio.ensure_future(refill_now())
            launch(refilling)

    backlog = Backlog(emptied)
    start(items)

    def write_now(group: list[asyncio.Future[Finished | None]]) -> bool:
        """Nothing more to wait for: every call has finished, or a judge is out of slots
        (the group holds them), or the job is asked to stop."""
        full = any(
            not isinstance(judge, Result) and judge.concurrency.full for judge in judges.values()
        )
        return len(group) == len(calls) or full or stop.is_set()

    try:
        while calls:
            done = [await finished.get()]
            with suppress(TimeoutError):
                async with asyncio.timeout(WRITE_WINDOW_S):
                    while not write_now(done):
                        done.append(await finished.get())
            while not finished.empty():
                done.append(finished.get_nowait())
            calls.difference_update(done)
            entries = [entry for future in done if (entry := future.result()) is not None]
            results = [(item, result) for item, result, _ in entries if result is not None]
            if results:
                stored = await asyncio.to_thread(
                    patiently, settings.job_timeout_s, store_many, sessions, token, results
                )
                heartbeat.let_go(item for item, _ in results)
                for (item, result), written in zip(results, stored, strict=True):
                    if written:
                        log.debug("stored %s", result.status, extra=item.log_fields)
                    else:
                        log.warning("result dropped: the claim was lost", extra=item.log_fields)
                    outcomes[item.run_id, result.status.value if written else "lost"] += 1
            for _, _, held in entries:
                if held is not None:
                    await held.release()
    finally:
        for call in calls:
            call.cancel()
        for judge in judges.values():
            if not isinstance(judge, Result):
                await judge.aclose()
        await throttles.aclose()
        await budgets.aclose()


def _make_judge(
    name: str, settings: Settings, throttles: ThrottleCounter, budgets: RateBudgets
) -> PacedJudge | Result:
    """A job's client for one judge, paced by its shared budget, with its own slots; or the
    failure every judgment of an unusable judge is stored with."""
    config = settings.all_judges.get(name)
    if config is None:
        failure = _failure("config_error", f"judge {name!r} is not configured")
    else:
        try:
            pool = _endpoints(name, config, throttles, budgets)
        except LookupError as exc:
            failure = _failure("config_error", str(exc))
        else:
            return PacedJudge(pool, config, None, AdaptiveConcurrency(config.max_concurrency))
    log.error("judge %s cannot be called: %s", name, failure.error, extra={"judge": name})
    return failure


def _endpoints(
    name: str, config: JudgeConfig, throttles: ThrottleCounter, budgets: RateBudgets
) -> EndpointPool:
    """A client and a shared budget per endpoint of the judge; a judge of one endpoint keeps
    the budget keys it always had (`budget_key`)."""
    for replica in config.replicas:
        replica.api_key()  # every key before any client: a missing one leaves none open
    endpoints = []
    several = len(config.replicas) > 1
    for replica, label in zip(config.replicas, config.endpoint_labels(), strict=True):
        keyed = label if several else None
        budget = budgets.for_judge(name, replica.rpm_limit, replica.tpm_limit, keyed)
        hook = throttles.hook(name, budget.observe, label)
        endpoints.append(Endpoint(label, make_provider(config, hook, replica), budget))
    return EndpointPool(name, endpoints, throttles)
