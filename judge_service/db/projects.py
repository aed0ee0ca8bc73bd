"""Projects and API keys: issuing a key, and finding the project a key belongs to."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from judge_service.db.models import DEFAULT_PROJECT, ApiKey, Project, utcnow

KEY_PREFIX = "js_"


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def project_named(session: Session, name: str) -> Project:
    """The project, created on first use (the default one exists from the migration on)."""
    project = session.scalars(select(Project).where(Project.name == name)).first()
    if project is None:
        project = Project(name=name)
        session.add(project)
        session.flush()
    return project


def default_project(session: Session) -> Project:
    existed = session.scalars(select(Project).where(Project.name == DEFAULT_PROJECT)).first()
    if existed is not None:
        return existed
    project = project_named(session, DEFAULT_PROJECT)
    session.commit()
    return project


def create_key(session: Session, project_name: str) -> str:
    """A new random key for the project; only its digest is stored, so it is shown once."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    project = project_named(session, project_name)
    session.add(ApiKey(project_id=project.id, prefix=key[:12], sha256=key_digest(key)))
    session.commit()
    return key


def project_for_key(session: Session, key: str) -> Project | None:
    return session.scalars(
        select(Project)
        .join(ApiKey, ApiKey.project_id == Project.id)
        .where(ApiKey.sha256 == key_digest(key), ApiKey.revoked_at.is_(None))
    ).first()


@dataclass(frozen=True)
class KeyInfo:
    prefix: str
    project: str
    created_at: datetime
    revoked_at: datetime | None


def list_keys(session: Session) -> list[KeyInfo]:
    rows = session.execute(
        select(ApiKey.prefix, Project.name, ApiKey.created_at, ApiKey.revoked_at)
        .join(Project, Project.id == ApiKey.project_id)
        .order_by(ApiKey.id)
    ).all()
    return [KeyInfo(*row) for row in rows]


def revoke_key(session: Session, prefix: str) -> int:
    """Revokes the live key shown as `prefix` in `keys list`; returns how many (0 or 1)."""
    keys = session.scalars(
        select(ApiKey).where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None))
    ).all()
    for key in keys:
        key.revoked_at = utcnow()
    session.commit()
    return len(keys)
