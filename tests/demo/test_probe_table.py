"""The probe table at 80 columns: every figure whole, one table per probe, the readings after.

Also the sample's synthetic placeholder image, which the demo's probes remove."""

from typing import Any

from rich.console import Console

from judge_service.demo.sample import PLACEHOLDER_IMAGE, sample_pairs
from judge_service.judging.images import check_image_url
from judge_service.tables import ci_range, pct, probe_tables
from tests.demo.test_demo_table import printed_rows

WIDTH = 80


def _row(run_id: int, judge: str, axis: str | None, changed: int, reading: str) -> dict[str, Any]:
    return {
        "probe_run_id": run_id,
        "judge": judge,
        "axis": axis,
        "n": 40,
        "changed": changed,
        "changed_share": changed / 40,
        "changed_ci": [max(0.0, changed / 40 - 0.1), min(1.0, changed / 40 + 0.1)],
        "toward_candidate": changed // 3,
        "toward_baseline": changed - changed // 3,
        "reading": reading,
    }


TABLE = {
    "run_id": 1,
    "confidence": 0.95,
    "probes": [
        {"run_id": 2, "probe": "drop_images", "pairs": 40, "status": "done"},
        {"run_id": 3, "probe": "pad_length", "pairs": 40, "status": "running"},
    ],
    "rows": [
        _row(2, "sim-grounded", None, 37, "sim-grounded: verdict moved"),
        _row(2, "sim-grounded", "perception", 30, "-"),
        _row(2, "sim-blind", None, 0, "sim-blind: verdict unchanged in 100% of 40 pairs"),
        _row(2, "sim-blind", "perception", 0, "-"),
        _row(3, "sim-blind", None, 12, "sim-blind: padding"),
    ],
}


def _render(*args: Any, **kwargs: Any) -> str:
    console = Console(width=WIDTH, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    for part in probe_tables(*args, **kwargs):
        console.print(part)
    return console.export_text()


def test_every_figure_is_printed_whole_at_80_columns() -> None:
    output = _render(TABLE, " [simulated judges]")
    assert "…" not in output
    assert max(len(line) for line in output.splitlines()) <= WIDTH
    assert "Probe drop_images (run 2, 40 pairs, done) [simulated judges]" in " ".join(
        output.split()
    )
    printed = printed_rows(output)
    for row in TABLE["rows"]:
        figures = [
            row["axis"] or "overall",
            str(row["n"]),
            pct(row["changed_share"]),
            ci_range(row["changed_ci"]),
            str(row["toward_candidate"]),
            str(row["toward_baseline"]),
        ]
        cells = printed[row["judge"]]  # its axis rows (no name) count under it
        assert all(cells[figure] for figure in figures), (row, cells)
    readings = [row["reading"] for row in TABLE["rows"] if row["axis"] is None]
    assert [line for line in output.splitlines() if line in readings] == readings


def test_axes_can_be_left_out() -> None:
    output = _render(TABLE, axes=(None,))
    assert "perception" not in output and "overall" in output


def test_the_sample_can_carry_a_synthetic_placeholder_image() -> None:
    plain, pictured = sample_pairs(30), sample_pairs(30, images=True)
    assert all(pair["image_urls"] == [PLACEHOLDER_IMAGE] for pair in pictured)
    assert [pair | {"image_urls": []} for pair in pictured] == plain  # nothing else changes
    assert check_image_url(PLACEHOLDER_IMAGE) == PLACEHOLDER_IMAGE
