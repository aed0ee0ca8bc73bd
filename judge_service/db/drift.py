"""Drift references and checks: lookups within a project, and what a judge said in a run."""

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from judge_service.db.models import DriftCheck, DriftReference, Judgment, JudgmentStatus, Pair


def latest_reference(session: Session, project_id: int, judge: str) -> DriftReference | None:
    """The project's current reference set for `judge`: the newest registered."""
    return session.scalars(
        select(DriftReference)
        .where(DriftReference.project_id == project_id, DriftReference.judge == judge)
        .order_by(DriftReference.id.desc())
        .limit(1)
    ).first()


def get_check(session: Session, check_id: int, project_id: int) -> DriftCheck | None:
    """The check, if it belongs to the project (another project's is not found)."""
    check = session.get(DriftCheck, check_id)
    return check if check is not None and check.project_id == project_id else None


def previous_check(session: Session, check: DriftCheck) -> DriftCheck | None:
    """The check of the same reference made just before this one, if any."""
    return session.scalars(
        select(DriftCheck)
        .where(DriftCheck.reference_id == check.reference_id, DriftCheck.id < check.id)
        .order_by(DriftCheck.id.desc())
        .limit(1)
    ).first()


def judge_verdicts(
    session: Session, run_id: int, judge: str, pair_ids: list[int] | None = None
) -> dict[str, list[str]]:
    """Per pair (by external id, which a derived run keeps), the judge's stored verdicts:
    one per order judged; a pair with a call not done has fewer."""
    query = (
        select(Pair.external_id, Judgment.verdict)
        .join(Pair, Pair.id == Judgment.pair_id)
        .where(
            Judgment.run_id == run_id,
            Judgment.judge == judge,
            Judgment.status == JudgmentStatus.DONE,
            Judgment.verdict.is_not(None),
        )
    )
    if pair_ids is not None:
        query = query.where(Pair.id.in_(pair_ids))
    verdicts: dict[str, list[str]] = defaultdict(list)
    for external_id, verdict in session.execute(query):
        assert verdict is not None  # the query keeps only judgments with a verdict
        verdicts[external_id].append(verdict)
    return dict(verdicts)


def reference_external_ids(session: Session, run_id: int, pair_ids: list[int] | None) -> list[str]:
    """The reference set's pairs by external id, in id order."""
    query = select(Pair.external_id).where(Pair.run_id == run_id).order_by(Pair.id)
    if pair_ids is not None:
        query = query.where(Pair.id.in_(pair_ids))
    return list(session.scalars(query))


def run_pair_ids(session: Session, run_id: int) -> list[int]:
    """Every pair id of the run, in id order (the population a reference sample is drawn from)."""
    return list(session.scalars(select(Pair.id).where(Pair.run_id == run_id).order_by(Pair.id)))


def judge_versions(session: Session, run_id: int) -> dict[str, list[str]]:
    """Per judge, the distinct versions its replies in the run reported, sorted.

    A version is the reply's `model`, followed by its `system_fingerprint` in parentheses when
    the provider sent one; judgments without a reply (pending, failed) report none.
    """
    rows = session.execute(
        select(Judgment.judge, Judgment.judge_model, Judgment.system_fingerprint)
        .where(Judgment.run_id == run_id, Judgment.judge_model.is_not(None))
        .distinct()
    )
    versions: dict[str, set[str]] = defaultdict(set)
    for judge, model, fingerprint in rows:
        assert model is not None  # the query keeps only judgments with a reply's model
        versions[judge].add(f"{model} ({fingerprint})" if fingerprint else model)
    return {judge: sorted(found) for judge, found in sorted(versions.items())}
