"""Drift checks: has a judge moved under its fixed name since the last time it was asked?

A project registers a reference set per judge (a run's pairs, or a seeded sample of them). A
check is a run derived from those pairs (cache off) judged by that judge alone; it is
compared pair by pair with the check before it, the first one with the reference run's own
verdicts from the judge (stats/drift.py says how, and when it counts as drift). The judge's
configuration must be what it was for the reference run: a changed configuration is a
change of judge, not drift, and the check is refused (409) as a rerun would be.
"""

from datetime import datetime
from typing import Any, Literal

import numpy as np
from fastapi import HTTPException
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from judge_service.config import JudgeConfig
from judge_service.db.drift import (
    get_check,
    judge_verdicts,
    judge_versions,
    latest_reference,
    previous_check,
    reference_external_ids,
    run_pair_ids,
)
from judge_service.db.models import DriftCheck, DriftReference, Project, Run
from judge_service.db.queries import run_counts
from judge_service.services.derived_runs import derive_run
from judge_service.stats.drift import compare_outcomes
from judge_service.stats.preference import NO_OUTCOME, OUTCOME_CODES, combine_orders
from judge_service.web.deps import get_run
from judge_service.web.errors import body_error


class DriftComparisonPublic(BaseModel):
    """This check against the one before (stats/drift.py: a paired interval on the change)."""

    pairs: int = Field(description="Reference pairs with an outcome in both")
    agreement: float | None = Field(description="Share of them with the same outcome")
    kappa: float | None = Field(description="Cohen's kappa over the four pair outcomes")
    win_rate_before: float | None
    win_rate_after: float | None
    win_rate_change: float | None = Field(description="after - before, from the same pairs")
    win_rate_change_ci: tuple[float, float] | None = Field(
        description="Paired t interval on the change (same pairs judged twice); null under 2"
    )
    confidence: float
    drifted: bool = Field(description="The interval excludes 0")


class DriftCheckPublic(BaseModel):
    id: int
    judge: str
    reference_id: int
    reference_run_id: int
    run_id: int = Field(description="The run that judged the reference pairs again")
    status: str = Field(description="The check run's status: pending, running, done, ...")
    judge_config: dict[str, Any] = Field(description="The judge's configuration fingerprint")
    created_at: datetime
    compared_with: Literal["reference_run", "previous_check"]
    previous_check_id: int | None
    previous_run_id: int = Field(description="The run whose verdicts this check is compared with")
    versions_before: list[str] = Field(
        description="Model versions the judge's replies reported there (model, fingerprint)"
    )
    versions_after: list[str] = Field(description="...and in this check")
    version_changed: bool = Field(description="The two sets of versions differ")
    comparison: DriftComparisonPublic | None = Field(description="Null until the check run is done")


class DriftReferencePublic(BaseModel):
    id: int
    judge: str
    run_id: int
    pairs: int = Field(description="Pairs in the reference set")
    sample: int | None
    seed: int | None
    created_at: datetime


def _configured(judge: str, known: dict[str, JudgeConfig]) -> JudgeConfig:
    if judge not in known:
        raise body_error("judge", f"unknown judge {judge!r}; configured: {sorted(known)}")
    return known[judge]


def register_reference(
    session: Session,
    project: Project,
    known: dict[str, JudgeConfig],
    *,
    run_id: int,
    judge: str,
    sample: int | None,
    seed: int | None,
) -> DriftReferencePublic:
    """Make a run's pairs (or `sample` of them, drawn with `seed`) the judge's reference set.

    The judge must have judged the run: its verdicts there are what the first check is
    compared with. Committed here; it replaces no earlier reference (their checks keep it).
    """
    _configured(judge, known)
    run = get_run(session, run_id, project)
    if judge not in run.judges:
        raise body_error("judge", f"judge {judge!r} did not judge run {run.id}: {run.judges}")
    population = run_pair_ids(session, run.id)
    if not population:
        raise body_error("run_id", f"run {run.id} has no pairs")
    pair_ids = None
    if sample is not None:
        seed = 0 if seed is None else seed  # a sample is always reproducible
    if sample is not None and sample < len(population):
        rng = np.random.default_rng(seed)
        pair_ids = sorted(int(i) for i in rng.choice(population, size=sample, replace=False))
    reference = DriftReference(
        project_id=project.id,
        judge=judge,
        run_id=run.id,
        pair_ids=pair_ids,
        sample=sample,
        seed=seed,
    )
    session.add(reference)
    session.commit()
    return _reference_public(reference, len(pair_ids) if pair_ids else len(population))


def _reference_public(reference: DriftReference, pairs: int) -> DriftReferencePublic:
    return DriftReferencePublic(
        id=reference.id,
        judge=reference.judge,
        run_id=reference.run_id,
        pairs=pairs,
        sample=reference.sample,
        seed=reference.seed,
        created_at=reference.created_at,
    )


def start_check(
    session: Session, project: Project, known: dict[str, JudgeConfig], judge: str
) -> tuple[DriftCheck, Run, list[int]]:
    """Record a check of the judge's current reference and its run, and commit them.

    The caller dispatches the returned pair ids after this commit. The check run judges every
    reference pair: the reference run's stop rule is not carried over.
    """
    config = _configured(judge, known)
    reference = latest_reference(session, project.id, judge)
    if reference is None:
        raise HTTPException(
            409,
            detail=f"no drift reference for judge {judge!r} in this project: register one "
            "with POST /v1/drift/references (or `judge-service drift --reference-run RUN`)",
        )
    source = session.get(Run, reference.run_id)
    assert source is not None  # the reference is deleted with its run
    if source.judge_configs.get(judge) != config.fingerprint():
        raise HTTPException(
            409,
            detail=f"judge {judge!r} is configured differently than for reference run "
            f"{source.id}: {source.judge_configs.get(judge)} then, {config.fingerprint()} now; "
            "that is another judge, not drift: register a new reference",
        )
    run, pair_ids = derive_run(
        session,
        source,
        name=f"drift check of {judge} on reference {reference.id}",
        judges=[judge],
        pair_ids=reference.pair_ids,
    )
    run.stop_when = None
    check = DriftCheck(
        project_id=project.id,
        judge=judge,
        reference_id=reference.id,
        run_id=run.id,
        judge_config=config.fingerprint(),
    )
    session.add(check)
    session.commit()
    return check, run, pair_ids


def _outcomes(verdicts: dict[str, list[str]], keys: list[str], orders: int) -> np.ndarray:
    """Outcome codes in `keys` order; a pair without a verdict in every order has none."""
    out = np.full(len(keys), NO_OUTCOME, dtype=np.int8)
    for index, key in enumerate(keys):
        found = verdicts.get(key, [])
        if len(found) == orders:
            out[index] = OUTCOME_CODES[combine_orders(found)]
    return out


def check_report(
    session: Session, project: Project, check_id: int, confidence: float = 0.95
) -> DriftCheckPublic:
    """The check, and once its run is done its comparison with the check before it."""
    check = get_check(session, check_id, project.id)
    if check is None:
        raise HTTPException(404, detail=f"drift check {check_id} not found")
    reference = session.get(DriftReference, check.reference_id)
    assert reference is not None  # checks are deleted with their reference
    previous = previous_check(session, check)
    before_run = reference.run_id if previous is None else previous.run_id
    status = run_counts(session, [check.run_id])[check.run_id].status
    source = session.get(Run, reference.run_id)
    assert source is not None  # the reference is deleted with its run
    keys = reference_external_ids(session, source.id, reference.pair_ids)
    orders = 2 if source.swap else 1
    comparison = None
    if status == "done":
        before = judge_verdicts(
            session, before_run, check.judge, reference.pair_ids if previous is None else None
        )
        after = judge_verdicts(session, check.run_id, check.judge)
        result = compare_outcomes(
            _outcomes(before, keys, orders), _outcomes(after, keys, orders), confidence
        )
        comparison = DriftComparisonPublic.model_validate(vars(result))
    versions_before = judge_versions(session, before_run).get(check.judge, [])
    versions_after = judge_versions(session, check.run_id).get(check.judge, [])
    return DriftCheckPublic(
        id=check.id,
        judge=check.judge,
        reference_id=reference.id,
        reference_run_id=reference.run_id,
        run_id=check.run_id,
        status=status,
        judge_config=check.judge_config,
        created_at=check.created_at,
        compared_with="reference_run" if previous is None else "previous_check",
        previous_check_id=None if previous is None else previous.id,
        previous_run_id=before_run,
        versions_before=versions_before,
        versions_after=versions_after,
        version_changed=bool(versions_after) and versions_before != versions_after,
        comparison=comparison,
    )
