"""What judging a run's unfinished judgments should cost, predicted before spending anything.

Prompt tokens are the rendered prompt's characters / 4 (the usual rule of thumb, and the
simulated provider's count); output tokens per call are the judge's mean over its finished
calls in this run, or its `max_tokens` before the first. Judgments the cache would answer
cost nothing and are left out. No provider is called.
"""

import math
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from judge_service.config import JudgeConfig
from judge_service.db.models import Judgment, JudgmentStatus, Run, RunMode
from judge_service.jobs.claims import WorkItem, work_items

# Judgments rendered at once: bounds memory on a large run.
RENDER_BATCH = 1000
CHARS_PER_TOKEN = 4


@dataclass(frozen=True)
class Estimate:
    judgments: int
    cache_hits: int
    input_tokens: int
    output_tokens: int
    cost_usd: float | None
    spent_usd: float


def estimate_run(session: Session, run: Run, judges: dict[str, JudgeConfig]) -> Estimate:
    unfinished = session.scalars(
        select(Judgment.id)
        .where(
            Judgment.run_id == run.id,
            Judgment.status.in_([JudgmentStatus.PENDING, JudgmentStatus.RUNNING]),
        )
        .order_by(Judgment.id)
    ).all()
    prompt_tokens: dict[str, int] = defaultdict(int)
    calls: dict[str, int] = defaultdict(int)
    hits = 0
    for start in range(0, len(unfinished), RENDER_BATCH):
        items = work_items(session, unfinished[start : start + RENDER_BATCH], judges)
        cached = _cached_keys(session, items) if run.cache else set()
        for item in items:
            if item.cache_key in cached:
                hits += 1
                continue
            calls[item.judge] += 1
            prompt_tokens[item.judge] += _tokens(len(item.prompt.system) + len(item.prompt.user))
    means = _mean_output(session, run.id)
    output_tokens: dict[str, int] = {}
    costs: list[float | None] = []
    for judge, count in calls.items():
        config = judges.get(judge)
        per_call = means.get(judge, config.max_tokens if config is not None else 0)
        output_tokens[judge] = round(per_call * count)
        batch = run.mode == RunMode.BATCH
        costs.append(
            config.cost_usd(prompt_tokens[judge], output_tokens[judge], batch=batch)
            if config is not None
            else None
        )
    return Estimate(
        judgments=len(unfinished),
        cache_hits=hits,
        input_tokens=sum(prompt_tokens.values()),
        output_tokens=sum(output_tokens.values()),
        cost_usd=None if None in costs else float(sum(c or 0.0 for c in costs)),
        spent_usd=run.spent_usd,
    )


def _tokens(chars: int) -> int:
    return math.ceil(chars / CHARS_PER_TOKEN)


def _cached_keys(session: Session, items: list[WorkItem]) -> set[str]:
    """The items' keys a done judgment of the project already has (the key holds the project)."""
    keys = {item.cache_key for item in items if item.cache_key}
    if not keys:
        return set()
    return set(
        session.scalars(
            select(Judgment.cache_key)
            .where(Judgment.cache_key.in_(keys), Judgment.status == JudgmentStatus.DONE)
            .distinct()
        )
    )


def _mean_output(session: Session, run_id: int) -> dict[str, float]:
    """Each judge's mean output tokens over its done, really called judgments of the run."""
    rows = session.execute(
        select(Judgment.judge, func.avg(Judgment.output_tokens))
        .where(
            Judgment.run_id == run_id,
            Judgment.status == JudgmentStatus.DONE,
            Judgment.cached_from_id.is_(None),
            Judgment.output_tokens.is_not(None),
        )
        .group_by(Judgment.judge)
    ).all()
    return {judge: float(mean) for judge, mean in rows}
