"""Rubric lookup and registration: built-ins from code, custom versions from the table."""

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from judge_service.db.models import Rubric
from judge_service.judging.rubrics import BUILTIN, RubricDefinition

BUILTIN_VERSION = 1


def get_rubric(
    session: Session, name: str, version: int | None = None
) -> tuple[RubricDefinition, int] | None:
    """The rubric at `version` (default: the latest), or None if there is none."""
    if name in BUILTIN:
        if version not in (None, BUILTIN_VERSION):
            return None
        return BUILTIN[name], BUILTIN_VERSION
    query = select(Rubric).where(Rubric.name == name)
    query = (
        query.where(Rubric.version == version)
        if version is not None
        else query.order_by(Rubric.version.desc()).limit(1)
    )
    row = session.scalars(query).first()
    if row is None:
        return None
    return RubricDefinition.model_validate(row.definition), row.version


def register_rubric(session: Session, definition: RubricDefinition) -> tuple[int, bool]:
    """Store a new version unless the latest is identical; returns (version, created)."""
    latest = get_rubric(session, definition.name)
    if latest is not None and latest[0] == definition:
        return latest[1], False
    current = session.scalar(select(func.max(Rubric.version)).where(Rubric.name == definition.name))
    version = (current or 0) + 1
    session.add(
        Rubric(
            name=definition.name,
            version=version,
            definition=definition.as_json(),
            sha256=definition.sha256,
        )
    )
    return version, True


def list_rubrics(session: Session) -> list[tuple[RubricDefinition, int]]:
    """Every rubric at its latest version, built-ins first."""
    found = [(rubric, BUILTIN_VERSION) for rubric in BUILTIN.values()]
    names = session.scalars(select(Rubric.name).distinct().order_by(Rubric.name)).all()
    for name in names:
        latest = get_rubric(session, name)
        if latest is not None:
            found.append(latest)
    return found
