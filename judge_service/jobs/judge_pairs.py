"""The job: judge every pending judgment of a chunk of pairs, concurrently.

The same function runs under RQ (`judge_pairs`, in the forked work horse) and
on the in-process executor (`judge_chunk`). It is synchronous on the outside
and runs one asyncio loop inside, with the async SDK clients created in that
loop: the pattern that is safe under RQ's forking worker. The loop's timers fall due on a
grid (`jobs/job_loop.py`), so calls paced by a rate limit start in bunches.
"""

import asyncio
import logging
import signal
import threading
import uuid
from collections import Counter
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from judge_service.config import Settings
from judge_service.db.engine import session_factory
from judge_service.db.models import JudgmentStatus
from judge_service.jobs.cache import reuse_cached
from judge_service.jobs.claims import (
    Result,
    WorkItem,
    claim,
    patiently,
    release,
    store_many,
)
from judge_service.jobs.job_loop import JobLoop
from judge_service.judging.concurrency import AdaptiveConcurrency
from judge_service.judging.paced import PacedJudge
from judge_service.judging.protocol import (
    ParsedVerdict,
    VerdictParseError,
    parse_structured,
    parse_text,
    verdict_schema,
)
from judge_service.judging.providers import (
    JudgeCall,
    JudgeProvider,
    describe_error,
    make_provider,
)
from judge_service.judging.replies import JudgeReply
from judge_service.judging.rubrics import OVERALL
from judge_service.judging.verdicts import to_verdict
from judge_service.ops.rate_limits import RateBudgets
from judge_service.ops.throttling import ThrottleCounter

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
    """Claim, judge, store; database calls wait out an outage for as long as a lease lasts."""
    sessions = session_factory(settings.database_url)
    token = uuid.uuid4().hex
    window = settings.lease_s
    claimed = patiently(window, claim, sessions, pair_ids, token, window, settings.all_judges)
    if not claimed:
        return ChunkSummary(0, 0, 0, 0)
    runs = _by_run(claimed)
    for run_id, run_items in runs.items():
        log.info("claimed %d judgments", len(run_items), extra=_run_fields(run_id, run_items))
    stop = stop or threading.Event()
    outcomes: Counter[tuple[int, str]] = Counter()
    totals: Counter[str] = Counter()
    try:
        items, copied = patiently(window, reuse_cached, sessions, claimed, token)
        outcomes.update((item.run_id, "done") for item in copied)
        with asyncio.Runner(loop_factory=JobLoop) as runner:
            runner.run(_judge_all(items, settings, sessions, token, stop, outcomes))
    finally:
        # Only non-empty when interrupted (job timeout, SIGTERM): give the rest back.
        released = patiently(window, release, sessions, token)
        for run_id, run_items in runs.items():
            counts = {outcome: outcomes[run_id, outcome] for outcome in OUTCOMES}
            totals.update(counts)
            counts["released"] = len(run_items) - sum(counts.values())
            log.info("chunk judged", extra=_run_fields(run_id, run_items) | counts)
    return ChunkSummary(len(claimed), totals["done"], totals["failed"], totals["lost"], released)


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


async def call_judge(provider: JudgeProvider, item: WorkItem) -> list[JudgeReply]:
    """One call, and one follow-up if its reply carries no readable verdict."""
    call = first_call(item)
    first = await provider.complete(call)
    try:
        parse_reply(first, item)
        return [first]
    except VerdictParseError:
        # Structured output has no turn to follow up on: the same request is asked again.
        retry = call if item.structured else replace(call, previous_reply=first.text)
        return [first, await provider.complete(retry)]


def _failure(kind: str, message: str) -> Result:
    return Result(JudgmentStatus.FAILED, error_kind=kind, error=message)


async def _judge_all(
    items: list[WorkItem],
    settings: Settings,
    sessions: sessionmaker[Session],
    token: str,
    stop: threading.Event,
    outcomes: Counter[tuple[int, str]],
) -> None:
    """Judge every item, counting each stored result in `outcomes` as (run id, outcome)."""
    judges = settings.all_judges
    throttles = ThrottleCounter(settings.redis_url, settings.queue_name)
    budgets = RateBudgets(settings.redis_url, settings.queue_name)
    providers: dict[str, JudgeProvider] = {}
    limits: dict[str, AdaptiveConcurrency] = {}
    unavailable: dict[str, Result] = {}
    for name in {item.judge for item in items}:
        config = judges.get(name)
        if config is None:
            unavailable[name] = _failure("config_error", f"judge {name!r} is not configured")
            continue
        budget = budgets.for_judge(name, config.rpm_limit, config.tpm_limit)
        try:
            sdk = make_provider(config, throttles.hook(name, budget.pause))
        except LookupError as exc:
            unavailable[name] = _failure("config_error", str(exc))
            continue
        limits[name] = AdaptiveConcurrency(config.max_concurrency)
        providers[name] = PacedJudge(sdk, config, budget, limits[name])
    for name, failure in unavailable.items():
        log.error("judge %s cannot be called: %s", name, failure.error, extra={"judge": name})

    async def one(item: WorkItem) -> Finished:
        """The item's result, or None when asked to stop before its call started.

        A called judge's slot stays taken until the writer has stored the result.
        """
        if item.judge in unavailable:
            return item, unavailable[item.judge], None
        limit = limits[item.judge]
        await limit.acquire()
        try:
            if stop.is_set():
                await limit.release()
                return item, None, None
            replies = await call_judge(providers[item.judge], item)
        except Exception as exc:
            log.warning("judge call failed: %r", exc, extra=item.log_fields)
            return item, _failure(*describe_error(exc)), limit
        except BaseException:
            await limit.release()
            raise
        result = interpret(replies, item)
        if result.status is JudgmentStatus.FAILED:
            log.warning("judge reply unusable: %s", result.error, extra=item.log_fields)
        return item, result, limit

    # Calls report to a queue as they finish; `asyncio.wait` on the pending set instead
    # walked every call in flight at each write, quadratic in a chunk's size.
    finished: asyncio.Queue[asyncio.Future[Finished]] = asyncio.Queue()
    calls = {asyncio.ensure_future(one(item)) for item in items}
    for call in calls:
        call.add_done_callback(finished.put_nowait)

    def write_now(group: list[asyncio.Future[Finished]]) -> bool:
        """Nothing more to wait for: every call has finished, or a judge is out of slots
        (the group holds them), or the job is asked to stop."""
        full = any(limit.full for limit in limits.values())
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
            entries = [f.result() for f in done]
            results = [(item, result) for item, result, _ in entries if result is not None]
            if results:
                stored = await asyncio.to_thread(
                    patiently, settings.lease_s, store_many, sessions, token, results
                )
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
        for provider in providers.values():
            await provider.aclose()
        await throttles.aclose()
        await budgets.aclose()
