"""The `judge-service` command, run as a user runs it."""

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import create_engine, inspect

from judge_service.db.engine import session_factory
from judge_service.db.models import ApiKey
from judge_service.db.projects import key_digest, project_named
from tests.conftest import REPO, cli_env


def cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path = REPO
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "judge_service", *args],
        env=cli_env(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_migrate_builds_the_schema(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    result = cli("migrate", env={"JUDGE_DATABASE_URL": url})
    assert result.returncode == 0, result.stderr
    assert {"runs", "pairs", "judgments"} <= set(inspect(create_engine(url)).get_table_names())


def test_worker_without_redis_says_why(tmp_path: Path) -> None:
    result = cli("worker", "--burst", cwd=tmp_path)
    assert result.returncode == 2
    assert "JUDGE_REDIS_URL" in result.stderr


def test_bad_judges_config_is_reported(tmp_path: Path) -> None:
    judges = '{"x": {"provider": "openai", "model": "m", "api_key_env": "K", "timeout_s": 600}}'
    result = cli(
        "migrate",
        env={"JUDGE_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "JUDGE_JUDGES": judges},
    )
    assert result.returncode != 0
    assert "job_timeout_s" in result.stderr


def listed_keys(env: dict[str, str]) -> dict[str, list[str]]:
    """`keys list` by the prefix it prints: [project, annotator, created, state]."""
    listed = cli("keys", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    return {line.split("\t")[0]: line.split("\t")[1:] for line in listed.stdout.splitlines()}


def test_keys_carry_an_annotator_and_are_revoked_by_what_list_prints(
    make_migrated_database: Callable[[], str],
) -> None:
    env = {"JUDGE_DATABASE_URL": make_migrated_database()}
    made = cli("keys", "create", "--project", "radiology", "--annotator", "alice", env=env)
    assert made.returncode == 0 and "'alice'" in made.stderr, made.stderr
    alice = made.stdout.strip()
    plain = cli("keys", "create", "--project", "radiology", env=env).stdout.strip()
    listed = listed_keys(env)
    assert listed[f"{alice[:12]}…"][:2] == ["radiology", "alice"]
    assert listed[f"{plain[:12]}…"][:2] == ["radiology", f"key:{plain[:12]}"]

    # Exactly what `keys list` prints, and a shorter start as README shows (js_ and 8 more).
    assert cli("keys", "revoke", f"{alice[:12]}…", env=env).returncode == 0
    assert cli("keys", "revoke", plain[:11], env=env).returncode == 0
    assert [state[-1][:7] for state in listed_keys(env).values()] == ["revoked", "revoked"]
    assert cli("keys", "revoke", plain[:11], env=env).returncode == 1  # none left to revoke

    refused = cli("keys", "create", "--project", "radiology", "--annotator", "key:x", env=env)
    assert refused.returncode == 2 and "--annotator" in refused.stderr


def test_revoking_by_a_start_two_keys_share_revokes_neither(
    make_migrated_database: Callable[[], str],
) -> None:
    url = make_migrated_database()
    env = {"JUDGE_DATABASE_URL": url}
    with session_factory(url)() as session:
        project = project_named(session, "radiology")
        for last in "12":
            prefix = f"js_AbCdEfGh{last}"
            session.add(ApiKey(project_id=project.id, prefix=prefix, sha256=key_digest(prefix)))
        session.commit()
    shared = cli("keys", "revoke", "js_AbCdEfGh", env=env)
    assert shared.returncode == 2 and "js_AbCdEfGh1, js_AbCdEfGh2" in shared.stderr
    assert [state[-1] for state in listed_keys(env).values()] == ["active", "active"]
    assert cli("keys", "revoke", "js_AbCdEfGh2", env=env).returncode == 0
    assert [state[-1][:6] for state in listed_keys(env).values()] == ["active", "revoke"]


def test_serve_refuses_auth_off_beyond_loopback(tmp_path: Path) -> None:
    """The app would answer every client but this machine 403: `serve` says so and stops."""
    env = {"JUDGE_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "JUDGE_AUTH": "off"}
    result = cli("serve", "--host", "0.0.0.0", "--port", "1", env=env)
    said = " ".join(result.stderr.split())  # the console wraps long lines
    assert result.returncode == 2
    assert "JUDGE_AUTH=off but listening on 0.0.0.0" in said
    assert "set JUDGE_AUTH=required to serve them with API keys" in said
