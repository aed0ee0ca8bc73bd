"""Runs of one project, looked up as sets: the leaderboard's runs, and the newest ones."""

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from judge_service.db.models import Project, Run


def project_runs(session: Session, project: Project, ids: Sequence[int]) -> list[Run]:
    """Those of `ids` that are runs of the project, by id; another project's are left out."""
    query = select(Run).where(Run.id.in_(ids), Run.project_id == project.id).order_by(Run.id)
    return list(session.scalars(query))


def newest_runs(session: Session, project: Project, limit: int) -> list[Run]:
    """The project's `limit` newest runs, newest first."""
    query = select(Run).where(Run.project_id == project.id).order_by(Run.id.desc()).limit(limit)
    return list(session.scalars(query))
