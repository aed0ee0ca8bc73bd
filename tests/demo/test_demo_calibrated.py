"""`judge-service demo` labels pairs through the label queue and prints the calibrated figure.

The demo is run as `make demo` runs it (serving, so its API can be asked afterwards); the
figure it printed must be the API's, and every label must say it came from the queue and the
simulated annotator.
"""

import re
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from judge_service.demo.annotator import NAME, rule_win_rate
from judge_service.demo.runner import LABELS
from judge_service.demo.sample import sample_pairs
from judge_service.tables import ci_range, pct
from tests.conftest import REPO, start_cli

pytestmark = pytest.mark.slow
PAIRS = 160


def test_the_demo_prints_the_apis_calibrated_figure_from_simulated_labels(tmp_path: Path) -> None:
    demo = start_cli(
        *("demo", "--pairs", str(PAIRS), "--port", "0"),
        env={"COLUMNS": "160", "PYTHONPATH": str(REPO)},
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        assert demo.stdout is not None
        lines: list[str] = []
        for line in demo.stdout:
            lines.append(line)
            if "press Ctrl-C" in line:
                break
        output = "".join(lines)
        url = re.search(r"Dashboard: (http://\S+)/runs/(\d+)", output)
        assert url, output
        api = f"{url[1]}/v1/runs/{url[2]}"
        stats = httpx.get(f"{api}/stats", timeout=30).raise_for_status().json()
        pairs = httpx.get(f"{api}/pairs", timeout=30).raise_for_status().json()["items"]
        labels = [
            label
            for pair in pairs
            for label in httpx.get(f"{url[1]}/v1/pairs/{pair['pair_id']}/human-labels", timeout=30)
            .raise_for_status()
            .json()
        ]
        demo.send_signal(signal.SIGINT)
        assert demo.wait(timeout=60) == 0
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()

    # Every label is the simulated annotator's, handed out by the queue: all of them count.
    assert len(labels) == LABELS
    assert {(label["annotator"], label["source"]) for label in labels} == {(NAME, "queue")}
    calibrated = stats["calibrated"]
    assert calibrated["labels_excluded"] == 0 and calibrated["labels_used"] >= LABELS
    assert calibrated["estimate"] is not None

    assert "SIMULATED ANNOTATOR" in output and "No person labelled anything" in output
    printed = next(line for line in lines if line.startswith("Calibrated win rate"))
    assert printed.strip() == (
        f"Calibrated win rate (SIMULATED annotator, not people: {calibrated['labels_used']} "
        f"labels from the label queue on {LABELS} pairs): {pct(calibrated['estimate'])} "
        f"(95% CI {ci_range(calibrated['ci'])}) vs the judges' {pct(stats['win_rate'])} "
        f"(95% CI {ci_range(stats['win_rate_ci'])})"
    )
    truth = rule_win_rate(sample_pairs(PAIRS))
    assert f"the annotator's rule on all {PAIRS} pairs gives {pct(truth)}" in output
    # The report's calibrated table shows the same figure on its panel row.
    table = output[output.index("corrected by labels from the label queue") :]
    panel_row = next(line for line in table.splitlines() if line.startswith("│ panel"))
    cells = [cell.strip() for cell in panel_row.split("│")]
    assert cells[4:6] == [pct(calibrated["estimate"]), ci_range(calibrated["ci"])]
