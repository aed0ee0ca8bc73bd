"""Planning a run: the pairs, judge calls, cost and human labels a conclusion needs.

The arithmetic is `stats/planning.py`; this puts it together with the judges' prices, the
caller's figures or a finished pilot run's, and says it in a sentence.
"""

from typing import Any

from fastapi.exceptions import RequestValidationError
from sqlalchemy.orm import Session

from judge_service.api.schemas import (
    DEFAULT_JUDGE_ERROR,
    DEFAULT_TIE_SHARE,
    PlanAssumptions,
    PlanCreate,
    PlanPublic,
    PlanTokens,
)
from judge_service.config import JudgeConfig, Settings
from judge_service.db.models import Project
from judge_service.db.pilot import Pilot, load_pilot
from judge_service.db.queries import run_counts
from judge_service.stats.calibrated import MIN_LABELS
from judge_service.stats.planning import SamplePlan, plan_sample
from judge_service.tables import usd
from judge_service.web.deps import get_run
from judge_service.web.errors import body_error


def make_plan(
    session: Session, settings: Settings, project: Project, body: PlanCreate
) -> PlanPublic:
    """How many pairs to judge, what that costs, and how many of them people should label,
    for an interval of the asked half-width on the win rate. Nothing is judged or stored."""
    pilot = None
    if body.pilot_run_id is not None:
        run = get_run(session, body.pilot_run_id, project)
        status = run_counts(session, [run.id])[run.id].status
        if status not in ("done", "budget_exhausted"):
            raise body_error("pilot_run_id", f"run {run.id} is {status}: plan from a finished run")
        pilot = load_pilot(session, run)
    judges = _judges(body, pilot, settings.all_judges)
    win_rate, tie_share = _shares(body, pilot)
    error, error_source = _judge_error(body, pilot)
    try:
        sample = plan_sample(body.half_width, body.confidence, win_rate, tie_share, error)
    except ValueError as refused:  # a pilot run whose every pair had one outcome
        raise body_error("pilot_run_id", str(refused)) from None
    prompt, output, tokens_source = _tokens_per_call(body, pilot, judges, settings.all_judges)
    calls = sample.pairs * (2 if body.swap else 1)
    tokens, cost = _judging(calls, judges, prompt, output, settings.all_judges)
    enough = None if body.pairs_available is None else body.pairs_available >= sample.pairs
    assumptions = PlanAssumptions(
        win_rate=win_rate,
        tie_share=tie_share,
        credit_variance=sample.variance,
        judge_error=error,
        judge_error_source=error_source,
        judge_weight=sample.lam,
        pilot_run_id=body.pilot_run_id,
        pilot_pairs=pilot.pairs if pilot else None,
        z=sample.z,
        judges=judges,
        swap=body.swap,
        mean_prompt_tokens=prompt,
        mean_output_tokens=output,
        tokens_source=tokens_source,
    )
    return PlanPublic(
        half_width=body.half_width,
        confidence=body.confidence,
        pairs=sample.pairs,
        judge_calls=calls * len(judges),
        tokens=tokens,
        cost_usd=cost,
        labels=sample.labels,
        labels_pairs=sample.labels_pairs,
        enough_pairs=enough,
        assumptions=assumptions,
        summary=_summary(body, sample, judges, cost, tokens is not None),
    )


def _judges(body: PlanCreate, pilot: Pilot | None, known: dict[str, JudgeConfig]) -> list[str]:
    if body.judges is None:
        judges = pilot.judges if pilot else sorted(known)
        missing = [name for name in judges if name not in known]
        if pilot and missing:
            msg = f"judges {missing} of run {pilot.run_id} are not configured: name the judges"
            raise body_error("judges", msg)
        if not judges:
            raise body_error("judges", "no judge is configured")
        return judges
    errors: list[dict[str, Any]] = []
    for index, name in enumerate(body.judges):
        if name not in known:
            msg = f"unknown judge {name!r}; configured: {sorted(known)}"
            errors.append({"loc": ("body", "judges", index), "msg": msg, "type": "value_error"})
        elif body.judges.index(name) != index:
            msg = f"judge {name!r} is listed twice"
            errors.append({"loc": ("body", "judges", index), "msg": msg, "type": "value_error"})
    if errors:
        raise RequestValidationError(errors)
    return body.judges


def _shares(body: PlanCreate, pilot: Pilot | None) -> tuple[float, float]:
    if pilot is None:
        assert body.expected_win_rate is not None  # PlanCreate asks for one or the other
        share = DEFAULT_TIE_SHARE if body.tie_share is None else body.tie_share
        return body.expected_win_rate, share
    if pilot.win_rate is None or pilot.half_share is None:
        raise body_error("pilot_run_id", f"run {pilot.run_id} has no pair with a panel outcome")
    return pilot.win_rate, pilot.half_share


def _judge_error(body: PlanCreate, pilot: Pilot | None) -> tuple[float, str]:
    if body.judge_error is not None:
        return body.judge_error, "given"
    if pilot is None:
        return DEFAULT_JUDGE_ERROR, "default"
    if pilot.judge_error is None or pilot.labelled_pairs < MIN_LABELS:
        return DEFAULT_JUDGE_ERROR, (
            f"default: run {pilot.run_id} has {pilot.labelled_pairs} labelled pairs, "
            f"{MIN_LABELS} needed to measure it"
        )
    return pilot.judge_error, f"run {pilot.run_id}: {pilot.labelled_pairs} labelled pairs"


def _tokens_per_call(
    body: PlanCreate, pilot: Pilot | None, judges: list[str], known: dict[str, JudgeConfig]
) -> tuple[dict[str, float] | None, dict[str, float], str]:
    """Per judge: the caller's figure, else the pilot's mean (its judges' mean for a judge
    new to it), else for output the judge's max_tokens, as the run estimate does."""
    measured = pilot.tokens if pilot else {}
    calls_prompt = [prompt for prompt, _ in measured.values()]
    pooled = sum(calls_prompt) / len(calls_prompt) if calls_prompt else None
    prompt: dict[str, float] | None = None
    if body.mean_prompt_tokens is not None:
        prompt = dict.fromkeys(judges, body.mean_prompt_tokens)
    elif pooled is not None:
        prompt = {name: measured[name][0] if name in measured else pooled for name in judges}
    output = {
        name: body.mean_output_tokens
        if body.mean_output_tokens is not None
        else measured[name][1]
        if name in measured
        else float(known[name].max_tokens)
        for name in judges
    }
    calls = f"run {pilot.run_id}'s judge calls" if pilot and measured else None
    prompt_from = "given" if body.mean_prompt_tokens is not None else calls or "unknown"
    output_from = (
        "given"
        if body.mean_output_tokens is not None
        else f"{calls}, else max_tokens"
        if calls
        else "each judge's max_tokens"
    )
    return prompt, output, f"prompt: {prompt_from}; output: {output_from}"


def _judging(
    calls: int,
    judges: list[str],
    prompt: dict[str, float] | None,
    output: dict[str, float],
    known: dict[str, JudgeConfig],
) -> tuple[PlanTokens | None, float | None]:
    """Tokens and cost of `calls` calls to each judge, priced by the judge's own cost_usd."""
    if prompt is None:
        return None, None
    tokens_in = {name: round(calls * prompt[name]) for name in judges}
    tokens_out = {name: round(calls * output[name]) for name in judges}
    costs = [known[name].cost_usd(tokens_in[name], tokens_out[name]) for name in judges]
    tokens = PlanTokens(input=sum(tokens_in.values()), output=sum(tokens_out.values()))
    if any(cost is None for cost in costs):
        return tokens, None
    return tokens, float(sum(cost or 0.0 for cost in costs))


def _summary(
    body: PlanCreate, sample: SamplePlan, judges: list[str], cost: float | None, tokens: bool
) -> str:
    orders = "both orders" if body.swap else "one order"
    if cost is not None:
        price = f"about {usd(cost)}"
    elif tokens:
        price = "cost unknown: a judge has no prices"
    else:
        price = "tokens and cost unknown: give mean_prompt_tokens or a pilot run"
    parts = [
        f"For ±{body.half_width:g} at {body.confidence:.0%} confidence: judge "
        f"{sample.pairs:,} pairs ({', '.join(judges)}, {orders}; {price})."
    ]
    if body.pairs_available is not None and body.pairs_available < sample.pairs:
        parts.append(f"Your {body.pairs_available:,} pairs are not enough for that.")
    parts.append(
        f"The calibrated interval, which corrects the judge's errors with people's labels, "
        f"cannot be narrower than people labelling every judged pair: for ±{body.half_width:g} "
        f"it needs {sample.labels_pairs:,} judged pairs, {sample.labels:,} of them labelled "
        "through the label queue."
    )
    return " ".join(parts)
