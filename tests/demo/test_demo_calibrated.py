"""`judge-service demo` labels pairs through the label queue and prints the calibrated figure.

The demo is run as `make demo` runs it (serving, so its API can be asked afterwards); the
figure it printed must be the API's, and every label must say it came from the queue and the
simulated annotator.
"""

from pathlib import Path

import httpx
import pytest

from judge_service.demo.annotator import NAME, rule_win_rate
from judge_service.demo.runner import LABELS
from judge_service.demo.sample import sample_pairs
from judge_service.tables import ci_range, pct
from tests.conftest import serving_demo

pytestmark = pytest.mark.slow
PAIRS = 160


def test_the_demo_prints_the_apis_calibrated_figure_from_simulated_labels(tmp_path: Path) -> None:
    with serving_demo(tmp_path, PAIRS) as demo:
        api = f"{demo.base_url}/v1/runs/{demo.run_id}"
        stats = httpx.get(f"{api}/stats", timeout=30).raise_for_status().json()
        pairs = httpx.get(f"{api}/pairs", timeout=30).raise_for_status().json()["items"]
        labels = [
            label
            for pair in pairs
            for label in httpx.get(
                f"{demo.base_url}/v1/pairs/{pair['pair_id']}/human-labels", timeout=30
            )
            .raise_for_status()
            .json()
        ]
        demo.stop()
    output = demo.output

    # Every label is the simulated annotator's, handed out by the queue: all of them count.
    assert len(labels) == LABELS
    assert {(label["annotator"], label["source"]) for label in labels} == {(NAME, "queue")}
    calibrated = stats["calibrated"]
    assert calibrated["labels_excluded"] == 0 and calibrated["labels_used"] >= LABELS
    assert calibrated["estimate"] is not None

    assert "SIMULATED ANNOTATOR" in output and "No person labelled anything" in output
    printed = next(line for line in output.splitlines() if line.startswith("Calibrated"))
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
