"""Rubric lookup and registration: built-ins from code, each project's own versions from the table.

A custom rubric belongs to the project that registered it: another project neither sees it nor
can add versions to it (posting the same name there starts that project's own rubric).
"""

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from judge_service.db.models import Rubric
from judge_service.judging.rubrics import BUILTIN, RubricDefinition

BUILTIN_VERSION = 1


def get_rubric(
    session: Session, project_id: int, name: str, version: int | None = None
) -> tuple[RubricDefinition, int] | None:
    """The project's rubric at `version` (default: the latest), or None if there is none."""
    if name in BUILTIN:
        if version not in (None, BUILTIN_VERSION):
            return None
        return BUILTIN[name], BUILTIN_VERSION
    query = select(Rubric).where(Rubric.project_id == project_id, Rubric.name == name)
    query = (
        query.where(Rubric.version == version)
        if version is not None
        else query.order_by(Rubric.version.desc()).limit(1)
    )
    row = session.scalars(query).first()
    if row is None:
        return None
    return RubricDefinition.model_validate(row.definition), row.version


def register_rubric(
    session: Session, project_id: int, definition: RubricDefinition
) -> tuple[int, bool]:
    """Store a new version unless the latest is identical; returns (version, created)."""
    latest = get_rubric(session, project_id, definition.name)
    if latest is not None and latest[0] == definition:
        return latest[1], False
    current = session.scalar(
        select(func.max(Rubric.version)).where(
            Rubric.project_id == project_id, Rubric.name == definition.name
        )
    )
    version = (current or 0) + 1
    session.add(
        Rubric(
            project_id=project_id,
            name=definition.name,
            version=version,
            definition=definition.as_json(),
            sha256=definition.sha256,
        )
    )
    return version, True


def list_rubrics(session: Session, project_id: int) -> list[tuple[RubricDefinition, int]]:
    """The built-ins, then every rubric of the project at its latest version."""
    found = [(rubric, BUILTIN_VERSION) for rubric in BUILTIN.values()]
    names = session.scalars(
        select(Rubric.name).where(Rubric.project_id == project_id).distinct().order_by(Rubric.name)
    ).all()
    for name in names:
        latest = get_rubric(session, project_id, name)
        if latest is not None:
            found.append(latest)
    return found
