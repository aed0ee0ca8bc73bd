"""Projects and API keys: issuing a key, and finding the project and annotator behind a key.

A key's human labels are recorded under its annotator (`keys create --annotator alice`) or,
without one, under `key:<prefix>`: never under a name the caller picks per request.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from judge_service.db.models import DEFAULT_PROJECT, ApiKey, Project, utcnow

KEY_PREFIX = "js_"
SHOWN_CHARS = 12  # of a key, kept and shown by `keys list` to tell keys apart
MIN_REVOKE_CHARS = 7  # "js_" and 4 more: too short a start would pick a key at random
KEY_ANNOTATOR = "key:"  # labels of a key without an annotator: "key:" + its prefix


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


def annotator_problem(name: str) -> str | None:
    """Why `name` cannot be a key's annotator, or None when it can."""
    if not 1 <= len(name) <= 100 or "\x00" in name or name != name.strip():
        return "must be 1 to 100 characters, without NUL or surrounding spaces"
    if name.startswith(KEY_ANNOTATOR):
        return f"must not start with {KEY_ANNOTATOR!r}: that names the labels of keys without one"
    return None


def create_key(session: Session, project_name: str, annotator: str | None = None) -> str:
    """A new random key for the project; only its digest is stored, so it is shown once."""
    problem = annotator_problem(annotator) if annotator is not None else None
    if problem is not None:
        raise ValueError(f"annotator {problem}")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    project = project_named(session, project_name)
    session.add(
        ApiKey(
            project_id=project.id,
            prefix=key[:SHOWN_CHARS],
            sha256=key_digest(key),
            annotator=annotator,
        )
    )
    session.commit()
    return key


def project_for_key(session: Session, key: str) -> Project | None:
    return session.scalars(
        select(Project)
        .join(ApiKey, ApiKey.project_id == Project.id)
        .where(ApiKey.sha256 == key_digest(key), ApiKey.revoked_at.is_(None))
    ).first()


def key_annotator(session: Session, key: str, project_id: int) -> str | None:
    """Whom the project's key records human labels under; None if it is not the project's.

    Revoked or not: a request authenticated by the key before it was revoked still made
    its labels as that key.
    """
    row = session.execute(
        select(ApiKey.annotator, ApiKey.prefix).where(
            ApiKey.sha256 == key_digest(key), ApiKey.project_id == project_id
        )
    ).first()
    if row is None:
        return None
    annotator, prefix = row
    return annotator or KEY_ANNOTATOR + prefix


@dataclass(frozen=True)
class KeyInfo:
    prefix: str
    project: str
    annotator: str  # whom its labels are recorded under
    created_at: datetime
    revoked_at: datetime | None


def list_keys(session: Session) -> list[KeyInfo]:
    rows = session.execute(
        select(ApiKey.prefix, Project.name, ApiKey.annotator, ApiKey.created_at, ApiKey.revoked_at)
        .join(Project, Project.id == ApiKey.project_id)
        .order_by(ApiKey.id)
    ).all()
    return [
        KeyInfo(prefix, project, annotator or KEY_ANNOTATOR + prefix, created, revoked)
        for prefix, project, annotator, created, revoked in rows
    ]


def revoke_key(session: Session, shown: str) -> int:
    """Revokes the live key `shown` names; returns how many were revoked (0 or 1).

    `shown` is the whole key, or a start of the prefix `keys list` prints (its trailing "…"
    or "..." dropped), such as README's `js_AbCdEfGh`. A start that several live keys share
    revokes none: ValueError, listing them.
    """
    start = shown.strip().rstrip("….")
    live = select(ApiKey).where(ApiKey.revoked_at.is_(None))
    if len(start) > SHOWN_CHARS:
        keys = session.scalars(live.where(ApiKey.sha256 == key_digest(start))).all()
    elif len(start) < MIN_REVOKE_CHARS:
        raise ValueError(f"give at least {MIN_REVOKE_CHARS} characters of the key, not {shown!r}")
    else:
        keys = session.scalars(live.where(ApiKey.prefix.startswith(start, autoescape=True))).all()
    if len(keys) > 1:
        prefixes = ", ".join(sorted(key.prefix for key in keys))
        raise ValueError(f"{start!r} starts {len(keys)} live keys ({prefixes}): give more of it")
    for key in keys:
        key.revoked_at = utcnow()
    session.commit()
    return len(keys)
