"""A run's figures: the body of `GET /v1/runs/{id}/stats`, which the run page renders too."""

from sqlalchemy.orm import Session

from judge_service.db.drift import judge_versions
from judge_service.db.label_draws import load_label_draws
from judge_service.db.models import Run
from judge_service.db.run_frame import MISSING_STRATUM, load_human_labels, load_run_frame
from judge_service.jobs.stopping import sequential_figures
from judge_service.judging.protocol import Scale
from judge_service.services.stats_models import AxisStats, PreferenceStats, RunStats
from judge_service.stats.drift import version_warnings
from judge_service.stats.multiplicity import adjust
from judge_service.stats.report import build_report
from judge_service.web.errors import query_error


def compute_run_stats(
    session: Session,
    run: Run,
    *,
    axis: str | None = None,
    by: str | None = None,
    bootstrap_rounds: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> RunStats:
    """The body of `GET /stats`; the dashboard renders this same object, so they agree."""
    axes = [item["name"] for item in run.rubric.get("axes", [])]
    if axis is not None and axis not in axes:
        raise query_error(
            "axis", f"rubric {run.rubric_name!r} has no axis {axis!r}; its axes: {axes}"
        )
    frame, pair_ids = load_run_frame(session, run, axis=axis, by=by)
    if by is not None and frame.n_pairs and frame.strata == [MISSING_STRATUM]:
        raise query_error("by", f"no pair of run {run.id} has metadata key {by!r}")
    # People label the overall preference, so only overall figures are calibrated.
    draws = load_label_draws(session, run, pair_ids) if axis is None else None
    report = build_report(
        frame,
        load_human_labels(session, run, pair_ids),
        draws,
        bootstrap_rounds=bootstrap_rounds,
        seed=seed,
        confidence=confidence,
    )
    panel = PreferenceStats.model_validate(report.panel)
    versions = judge_versions(session, run.id)
    return RunStats.model_validate(
        {
            **panel.model_dump(),
            "run_id": run.id,
            "baseline": run.baseline,
            "candidate": run.candidate,
            "judges": run.judges,
            "rubric": run.rubric_name,
            "rubric_version": run.rubric_version,
            "scale": Scale(run.scale),
            "axis": axis,
            "by": by,
            "confidence": confidence,
            "bootstrap_rounds": bootstrap_rounds,
            "seed": seed,
            "panel": panel,
            "per_judge": report.per_judge,
            "agreement": report.agreement,
            "human": report.human,
            "by_stratum": report.by_stratum,
            "sequential": sequential_figures(session, run),
            "judge_versions": versions,
            "warnings": version_warnings(versions),
        }
    )


def compute_axis_stats(
    session: Session, run: Run, *, bootstrap_rounds: int = 0, confidence: float = 0.95
) -> dict[str, AxisStats]:
    """Each rubric axis's panel figures, sign tests adjusted across the axes (one family).

    The API answers one `?axis=` at a time; the per-axis table is this, so its rows agree
    with `GET /stats?axis=` and carry the adjustment a table of many axes needs.
    """
    panels = {
        item["name"]: compute_run_stats(
            session,
            run,
            axis=item["name"],
            bootstrap_rounds=bootstrap_rounds,
            confidence=confidence,
        ).panel
        for item in run.rubric.get("axes", [])
    }
    adjusted = adjust([panel.sign_test_p for panel in panels.values()], 1 - confidence)
    return {
        name: AxisStats(panel=panel, **vars(row))
        for (name, panel), row in zip(panels.items(), adjusted, strict=True)
    }
