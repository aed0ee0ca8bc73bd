"""Probes: runs that re-judge a sample of a run's pairs with one controlled change, and the
table of how often each judge's verdicts moved (`POST`/`GET /v1/runs/{id}/probes`, the run
page, `judge-service probe`).

A probe run is an ordinary run linked to its source (`runs.probe_of`, `runs.probe`): the
normal pipeline judges it, with the source's judges, rubric, scale and orders, cache off.
"""

import random
import secrets
from collections.abc import Mapping, Sequence
from functools import partial

import numpy as np
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from judge_service.config import JudgeConfig
from judge_service.db.models import Run
from judge_service.db.probes import external_ids, pair_ids, probe_runs
from judge_service.db.queries import run_counts
from judge_service.db.run_frame import load_run_frame
from judge_service.judging.probes import TRANSFORMS, ProbeKind
from judge_service.services.derived_runs import derive_run
from judge_service.stats.probes import aligned, compare_outcomes, reading
from judge_service.stats.report import pair_outcome_table

MAX_RUN_NAME = 200  # runs.name


class ProbeRunSummary(BaseModel):
    """One probe run of the source: its kind and how far its judging is."""

    run_id: int
    probe: ProbeKind
    pairs: int
    status: str = Field(description="pending, running, done or budget_exhausted")


class ProbeRow(BaseModel):
    """One probe kind, judge and axis: the probe's pairs against the same pairs in the source."""

    probe: ProbeKind
    probe_run_id: int
    judge: str
    axis: str | None = Field(description="A rubric axis, or null for the overall verdict")
    n: int = Field(description="Pairs with an outcome (both orders combined) in both runs")
    changed: int
    changed_share: float | None
    changed_ci: tuple[float, float] | None = Field(description="Wilson interval")
    unchanged_share: float | None
    toward_candidate: int = Field(description="Changes that raised the candidate's credit")
    toward_baseline: int = Field(description="Changes that lowered it")
    reading: str


class ProbeTable(BaseModel):
    """Every probe of a run, per kind, judge and axis (the overall verdict first)."""

    run_id: int
    confidence: float
    probes: list[ProbeRunSummary]
    rows: list[ProbeRow]


def changed_judges(source: Run, known: Mapping[str, JudgeConfig]) -> list[str]:
    """The source's judges configured differently now: their probes would not compare."""
    return [
        name
        for name in source.judges
        if name not in known or known[name].fingerprint() != source.judge_configs.get(name)
    ]


def create_probes(
    session: Session, source: Run, kinds: Sequence[ProbeKind], sample: int, seed: int | None
) -> tuple[list[tuple[Run, list[int]]], int]:
    """One probe run per kind over the same seeded sample of the source's pairs (at most
    `sample`), flushed, not committed; with their new pair ids, and the seed used.

    The same sample for every kind, so the kinds can be compared with each other. A probe
    run has no stop rule: every sampled pair is judged.
    """
    seed = secrets.randbelow(2**31) if seed is None else seed
    ids = pair_ids(session, source)
    chosen = sorted(random.Random(seed).sample(ids, min(sample, len(ids))))
    made = []
    for kind in kinds:
        suffix = f" (probe {kind.value} of run {source.id}, seed {seed})"
        run, new_ids = derive_run(
            session,
            source,
            name=source.name[: MAX_RUN_NAME - len(suffix)] + suffix,
            pair_ids=chosen,
            transform=partial(TRANSFORMS[kind], seed=seed),
        )
        run.probe_of, run.probe, run.stop_when = source.id, kind.value, None
        made.append((run, new_ids))
    session.flush()
    return made, seed


def _outcomes(
    session: Session, run: Run, axes: list[str | None]
) -> tuple[dict[str | None, np.ndarray], list[str]]:
    """Per axis, the per-judge pair outcomes (judges, pairs); and the pairs' external ids."""
    by_axis = {
        axis: pair_outcome_table(load_run_frame(session, run, axis=axis)[0])[0] for axis in axes
    }
    return by_axis, external_ids(session, run)


def _kind(probe: Run) -> ProbeKind:
    assert probe.probe is not None  # a run made as a probe always records its kind
    return ProbeKind(probe.probe)


def probe_table(session: Session, source: Run, confidence: float = 0.95) -> ProbeTable:
    """The probe table of `source`: empty lists when it has no probes."""
    probes = probe_runs(session, source)
    counts = run_counts(session, [probe.id for probe in probes]) if probes else {}
    axes: list[str | None] = [None, *(item["name"] for item in source.rubric.get("axes", []))]
    before, before_ids = _outcomes(session, source, axes) if probes else ({}, [])
    rows = []
    for probe in probes:
        kind = _kind(probe)
        after, after_ids = _outcomes(session, probe, axes)
        source_index, probe_index = aligned(before_ids, after_ids)
        for j, judge in enumerate(probe.judges):
            if judge not in source.judges:
                continue
            for axis in axes:
                compared = compare_outcomes(
                    before[axis][source.judges.index(judge)][source_index],
                    after[axis][j][probe_index],
                    confidence,
                )
                share = compared.changed_share
                rows.append(
                    ProbeRow(
                        probe=kind,
                        probe_run_id=probe.id,
                        judge=judge,
                        axis=axis,
                        n=compared.n,
                        changed=compared.changed,
                        changed_share=share,
                        changed_ci=compared.changed_ci,
                        unchanged_share=None if share is None else 1 - share,
                        toward_candidate=compared.toward_candidate,
                        toward_baseline=compared.toward_baseline,
                        reading=reading(kind.value, judge, axis, compared),
                    )
                )
    summaries = [
        ProbeRunSummary(
            run_id=probe.id,
            probe=_kind(probe),
            pairs=counts[probe.id].pairs,
            status=counts[probe.id].status,
        )
        for probe in probes
    ]
    return ProbeTable(run_id=source.id, confidence=confidence, probes=summaries, rows=rows)
