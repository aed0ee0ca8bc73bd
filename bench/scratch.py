"""Scratch databases for the benches: dropped and made anew, migrated to the latest schema."""

import psycopg

from judge_service.db import migrate

SERVER = "postgresql://postgres@127.0.0.1:5432"


def fresh_database(name: str) -> str:
    """A new empty database `name` at the latest schema; returns its SQLAlchemy URL."""
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {name}")
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    migrate.upgrade(url)
    return url
