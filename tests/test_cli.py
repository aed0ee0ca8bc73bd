"""The `judge-service` command, run as a user runs it."""

import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, inspect

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
