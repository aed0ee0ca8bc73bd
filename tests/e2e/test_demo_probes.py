"""`judge-service demo` probes its run: the image-blind simulated judges' verdicts stay when the
images are removed, the image-grounded one's move; the table fits 80 columns."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, cli_env

pytestmark = pytest.mark.slow
PAIRS = 60


def test_the_demo_prints_the_probe_table(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "judge_service", "demo", "--pairs", str(PAIRS), "--no-serve"],
        cwd=tmp_path,
        env=cli_env({"COLUMNS": "80", "PYTHONPATH": str(REPO)}),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    output = result.stdout
    words = " ".join(output.split())  # readings wrap at 80 columns
    assert "PROBES" in words and "SIMULATED judges" in words
    for kind in ("drop_images", "swap_answers", "pad_length", "shuffle_rationale"):
        assert re.search(rf"Probe {kind} \(run \d+, 40 pairs, done\) \[simulated judges\]", words)
    removed = "of 40 pairs when the images were removed"
    for blind in ("sim-anthropic", "sim-local"):
        assert (
            f"{blind}: verdict unchanged in 100% {removed}: the overall verdict is not "
            "image-grounded." in words
        )
    grounded = re.search(rf"sim-openai: verdict unchanged in (\d+)% {removed}: the overall", words)
    assert grounded and int(grounded[1]) < 50
    assert "the overall verdict depends on the images." in words
    table_lines = [line for line in output.splitlines() if line[:1] in "┏┃┡│└"]
    assert max(len(line) for line in table_lines) <= 80
    assert "…" not in output
