"""`make demo` in an 80-column terminal: every figure of the report is printed whole.

Rich shrinks a table wider than the terminal by wrapping and then cutting cells, which
printed "69…" for a win rate. The demo runs here as a user starts it, with COLUMNS=80, and
each figure of its run's stats (read back from its API) must appear in full, on one line,
in a table row under its judge's, stratum's or axis's name.
"""

from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from judge_service.tables import ci_range, p_value, pct
from tests.conftest import serving_demo

pytestmark = pytest.mark.slow
WIDTH = 80
PAIRS = 60  # enough labels (one per pair) for a calibrated figure


def _demo_output(cwd: Path) -> tuple[str, dict[str, list[str]]]:
    """The demo's output up to its dashboard line, and the figures its API holds."""
    with serving_demo(cwd, PAIRS, columns=WIDTH) as demo:
        api = f"{demo.base_url}/v1/runs/{demo.run_id}"
        stats = httpx.get(f"{api}/stats", params={"by": "modality"}, timeout=30)
        axes = httpx.get(f"{demo.base_url}/v1/rubrics/reasoning-trace", timeout=30)
        by_axis = {
            axis["name"]: httpx.get(f"{api}/stats", params={"axis": axis["name"]}, timeout=30)
            .raise_for_status()
            .json()
            for axis in axes.raise_for_status().json()["axes"]
        }
        demo.stop()
        output = demo.output
    return output, expected_figures(stats.raise_for_status().json(), by_axis)


def expected_figures(
    stats: dict[str, Any], by_axis: dict[str, dict[str, Any]]
) -> dict[str, list[str]]:
    """What the report must show, per row name, formatted as the tables format it."""
    rows = {**stats["per_judge"], "panel (majority)": stats["panel"]}
    expected = {name: _judge(figures) for name, figures in rows.items()}
    for name, stratum in stats["by_stratum"].items():
        expected[name] = [
            *_preference(stratum["panel"]),
            p_value(stratum["sign_test_p_holm"]) + (" *" if stratum["significant_holm"] else ""),
            p_value(stratum["sign_test_p_bh"]) + (" *" if stratum["significant_bh"] else ""),
        ]
    for name, axis in by_axis.items():
        expected[name] = _preference(axis["panel"])
    return expected


def _preference(figures: dict[str, Any]) -> list[str]:
    counts = ("n", "wins", "ties", "inconsistent", "losses")
    return [
        *(str(figures[key]) for key in counts),
        pct(figures["win_rate"]),
        ci_range(figures["win_rate_ci"]),
        p_value(figures["sign_test_p"]),
    ]


def _judge(figures: dict[str, Any]) -> list[str]:
    calibrated = figures["calibrated"]
    return [
        *_preference(figures),
        str(figures["missing"]),
        pct(figures["decisive_win_rate"]),
        ci_range(figures["decisive_win_rate_ci"]),
        pct(figures["position_consistency"]),
        pct(figures["first_slot_rate"]),
        ci_range(figures["first_slot_rate_ci"]),
        pct(figures["longer_preferred_rate"]),
        ci_range(figures["longer_preferred_rate_ci"]),
        pct(figures["length_controlled_win_rate"]),
        ci_range(figures["length_controlled_win_rate_ci"]),
        pct(figures["order_level"]["win_rate"]),
        pct(calibrated["estimate"]),
        ci_range(calibrated["ci"]),
        ci_range(calibrated["human_only_ci"]),
        str(calibrated["labels_used"]),
        str(calibrated["labels_excluded"]),
    ]


def printed_rows(output: str) -> dict[str, Counter[str]]:
    """Every table body row's cells by the row's name, over all tables.

    A name wrapped onto the next line (its figure cells empty there) is joined back; a figure
    wrapped onto the next line is kept as its pieces, which match no whole figure.
    """
    rows: list[tuple[list[str], list[str]]] = []  # (name lines, figure cells)
    for line in output.splitlines():
        if not line.startswith("│"):
            continue
        name, *figures = (cell.strip() for cell in line.split("│")[1:-1])
        if rows and not any(figures):
            rows[-1][0].append(name)
        elif name:
            rows.append(([name], figures))
        elif rows:
            rows[-1][1].extend(figures)
    cells: dict[str, Counter[str]] = {}
    for names, figures in rows:
        cells.setdefault(" ".join(names), Counter()).update(figures)
    return cells


def test_the_demo_prints_every_figure_whole_at_80_columns(tmp_path: Path) -> None:
    output, expected = _demo_output(tmp_path)
    assert "…" not in output
    table_lines = [line for line in output.splitlines() if line[:1] in "┏┃┡│└"]
    assert table_lines and max(len(line) for line in table_lines) <= WIDTH
    printed = printed_rows(output)
    for name, figures in expected.items():
        assert name in printed, (name, sorted(printed))
        missing = Counter(figures) - printed[name]
        assert not missing, (name, missing, printed[name])
