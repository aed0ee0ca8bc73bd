"""What judging a run's unfinished judgments should cost, predicted before spending anything.

Prompt tokens are the rendered prompt's characters / 4 (the usual rule of thumb, and the
simulated provider's count); output tokens per call are the judge's mean over its finished
calls in this run, or its `max_tokens` before the first. Judgments the cache would answer
cost nothing and are left out. No provider is called.

It warns of a judge whose `max_tokens` is below what its calls in the project used (the 95th
percentile of their output tokens, thinking included): a reasoning judge under too small a
cap has its replies cut off, and they fail as `truncated`.
"""

import math
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from judge_service.config import JudgeConfig
from judge_service.db.models import Judgment, JudgmentStatus, Run, RunMode
from judge_service.jobs.claims import WorkItem, work_items

# Judgments rendered at once: bounds memory on a large run.
RENDER_BATCH = 1000
CHARS_PER_TOKEN = 4
# A judge's latest calls in the project that its cap is checked against, and the fewest
# that say anything about its 95th percentile.
CAP_SAMPLE = 1000
CAP_MIN_CALLS = 20


@dataclass(frozen=True)
class Estimate:
    judgments: int
    cache_hits: int
    input_tokens: int
    output_tokens: int
    cost_usd: float | None
    spent_usd: float
    warnings: list[str] = field(default_factory=list)


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
        warnings=_cap_warnings(session, run.project_id, calls, judges),
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


def _cap_warnings(
    session: Session, project_id: int, calls: dict[str, int], judges: dict[str, JudgeConfig]
) -> list[str]:
    """For each judge with calls to make: a warning when its `max_tokens` is below the 95th
    percentile of the output tokens (reasoning included) of its latest done calls in the
    project, so more than one call in twenty would be cut off."""
    warnings = []
    for judge in sorted(calls):
        config = judges.get(judge)
        if config is None:
            continue
        # The query keeps only counted calls; the filter tells the type checker so.
        counted = session.scalars(
            select(Judgment.output_tokens)
            .join(Run, Run.id == Judgment.run_id)
            .where(
                Run.project_id == project_id,
                Judgment.judge == judge,
                Judgment.status == JudgmentStatus.DONE,
                Judgment.cached_from_id.is_(None),
                Judgment.output_tokens.is_not(None),
            )
            .order_by(Judgment.id.desc())
            .limit(CAP_SAMPLE)
        )
        used = [tokens for tokens in counted if tokens is not None]
        if len(used) < CAP_MIN_CALLS:
            continue
        p95 = sorted(used)[math.ceil(0.95 * len(used)) - 1]
        if config.max_tokens < p95:
            warnings.append(
                f"judge {judge!r}: max_tokens {config.max_tokens} is below the 95th percentile "
                f"of its calls' output tokens in this project ({p95}, thinking included): "
                "replies cut off at the cap fail as truncated"
            )
    return warnings


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
