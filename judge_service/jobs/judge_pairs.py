"""The job: judge every pending judgment of a chunk of pairs, concurrently.

The same function runs under RQ (`judge_pairs`, in the forked work horse) and
on the in-process executor (`judge_chunk`). It is synchronous on the outside
and runs one asyncio loop inside, with the async SDK clients created in that
loop: the pattern that is safe under RQ's forking worker.
"""

import asyncio
import logging
import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from judge_service.config import JudgeConfig, Settings
from judge_service.db.engine import session_factory
from judge_service.db.models import JudgmentStatus
from judge_service.jobs.claims import Result, WorkItem, claim, release, store
from judge_service.judging.providers import JudgeProvider, JudgeReply, describe_error, make_provider
from judge_service.judging.verdicts import parse_label, to_verdict

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChunkSummary:
    claimed: int
    done: int
    failed: int
    lost: int


def judge_pairs(pair_ids: list[int]) -> dict[str, int]:
    """RQ entry point: settings and the database engine are made here, after the fork."""
    summary = judge_chunk(Settings(), pair_ids)
    return summary.__dict__


def judge_chunk(settings: Settings, pair_ids: list[int]) -> ChunkSummary:
    sessions = session_factory(settings.database_url)
    token = uuid.uuid4().hex
    items = claim(sessions, pair_ids, token, settings.lease_s)
    if not items:
        return ChunkSummary(0, 0, 0, 0)
    try:
        return asyncio.run(_judge_all(items, settings.all_judges, sessions, token))
    finally:
        # Only non-empty when interrupted (job timeout, SIGTERM): give the rest back.
        release(sessions, token)


def interpret(reply: JudgeReply, item: WorkItem) -> Result:
    label = parse_label(reply.text)
    common = {
        "judge_model": reply.model,
        "raw_response": reply.text,
        "input_tokens": reply.input_tokens,
        "output_tokens": reply.output_tokens,
        "latency_ms": reply.latency_ms,
    }
    if label is None:
        return Result(
            JudgmentStatus.FAILED,
            error_kind="parse_error",
            error="no [[A]], [[B]] or [[C]] verdict label in the reply",
            **common,
        )
    return Result(
        JudgmentStatus.DONE, label=label.value, verdict=to_verdict(label, item.order), **common
    )


def _failure(kind: str, message: str) -> Result:
    return Result(JudgmentStatus.FAILED, error_kind=kind, error=message)


async def _judge_all(
    items: list[WorkItem],
    judges: dict[str, JudgeConfig],
    sessions: sessionmaker[Session],
    token: str,
) -> ChunkSummary:
    providers: dict[str, JudgeProvider] = {}
    unavailable: dict[str, Result] = {}
    for name in {item.judge for item in items}:
        config = judges.get(name)
        if config is None:
            unavailable[name] = _failure("config_error", f"judge {name!r} is not configured")
            continue
        try:
            providers[name] = make_provider(config)
        except LookupError as exc:
            unavailable[name] = _failure("config_error", str(exc))
    limits = {name: asyncio.Semaphore(judges[name].max_concurrency) for name in providers}

    async def one(item: WorkItem) -> tuple[WorkItem, Result]:
        if item.judge in unavailable:
            return item, unavailable[item.judge]
        try:
            async with limits[item.judge]:
                reply = await providers[item.judge].complete(item.prompt)
        except Exception as exc:
            log.warning("judge %s failed on judgment %s: %r", item.judge, item.judgment_id, exc)
            return item, _failure(*describe_error(exc))
        return item, interpret(reply, item)

    done = failed = lost = 0
    try:
        for next_result in asyncio.as_completed([one(item) for item in items]):
            item, result = await next_result
            if not await asyncio.to_thread(store, sessions, item, token, result):
                lost += 1
            elif result.status is JudgmentStatus.DONE:
                done += 1
            else:
                failed += 1
    finally:
        for provider in providers.values():
            await provider.aclose()
    return ChunkSummary(len(items), done, failed, lost)
