"""`judge-service demo`, as `make demo` runs it, in a subprocess."""

import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO, cli_env, serving_demo

pytestmark = pytest.mark.slow


def run_demo(cwd: Path, extra_env: dict[str, str], pairs: int = 200) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "judge_service", "demo", "--pairs", str(pairs), "--no-serve"],
        cwd=cwd,
        env=cli_env({**extra_env, "COLUMNS": "160", "PYTHONPATH": str(REPO)}),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _check(output: str, pairs: int) -> None:
    assert "SIMULATED" in output
    assert f"{pairs} pairs accepted" in output
    assert "win rate of" in output and "95% CI" in output
    assert "/docs" in output
    assert re.search(r"Dashboard: http://127\.0\.0\.1:\d+/runs/\d+", output)
    assert all(judge in output for judge in ("sim-openai", "sim-anthropic", "sim-local"))
    assert "reasoning-trace rubric (5-level scale)" in output
    assert "Per-axis win rates" in output
    for axis in ("perception", "knowledge", "rationale", "answer"):
        assert axis in output


def test_demo_on_embedded_defaults(tmp_path: Path) -> None:
    output = run_demo(tmp_path, {})
    _check(output, 200)
    assert "in-process executor" in output
    assert (tmp_path / "judge_service.db").exists()


def test_demo_on_postgres_and_rq(
    tmp_path: Path, make_pg_database: Callable[[], str], redis_url: str
) -> None:
    output = run_demo(
        tmp_path,
        {
            "JUDGE_DATABASE_URL": make_pg_database(),
            "JUDGE_REDIS_URL": redis_url,
            "JUDGE_QUEUE_NAME": f"demo-test-{os.getpid()}",
        },
    )
    _check(output, 200)
    assert "RQ on redis://" in output


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_demo_serves_the_dashboard_until_stopped(tmp_path: Path, stop: signal.Signals) -> None:
    """Without --no-serve the demo keeps its dashboard up (here on SQLite) until stopped."""
    with serving_demo(tmp_path, 12) as demo:
        page_url = f"{demo.base_url}/runs/{demo.run_id}"
        page = httpx.get(page_url, timeout=30)
        assert page.status_code == 200 and 'data-testid="headline-rate"' in page.text
        stats = httpx.get(f"{demo.base_url}/v1/runs/{demo.run_id}/stats", timeout=30).json()
        assert f'data-value="{stats["win_rate"]}"' in page.text
        for path in ("/", f"/runs/{demo.run_id}/pairs?key=modality&value=CT", "/leaderboard"):
            assert httpx.get(demo.base_url + path, timeout=30).status_code == 200
        demo.stop(stop)  # Ctrl-C, or a service manager
        assert demo.process.stdout is not None
        assert demo.process.stdout.read().strip().endswith("stopped")
