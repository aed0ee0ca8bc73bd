"""The example notebook, executed by a real kernel against a live stack."""

import re
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import REPO, Stack

pytestmark = pytest.mark.slow

NOTEBOOK = REPO / "examples" / "compare_base_vs_tuned.ipynb"


def _tagged(notebook: Any, tag: str) -> Any:
    (cell,) = [c for c in notebook.cells if tag in c.metadata.get("tags", [])]
    return cell


def _text(cell: Any) -> str:
    parts = []
    for output in cell.outputs:
        parts.append(output.get("text", ""))
        for kind in ("text/plain", "text/html"):
            parts.append(output.get("data", {}).get(kind, ""))
    return "\n".join(parts)


def test_example_notebook_runs_and_shows_the_win_rate(
    stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack.start_worker()
    stack.start_worker()
    monkeypatch.setenv("JUDGE_URL", str(stack.api.base_url))  # the kernel inherits it
    before = max((r["id"] for r in stack.api.get("/v1/runs").json()), default=0)
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    ).execute()
    nbformat.write(notebook, tmp_path / "executed.ipynb")

    errors = [o for c in notebook.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors

    (run,) = [r for r in stack.api.get("/v1/runs").json() if r["id"] > before]
    assert run["name"].startswith("tuned vs base [")  # named from its data and judges
    assert run["status"] == "done" and run["counts"]["pairs"] == 200
    stats = stack.api.get(f"/v1/runs/{run['id']}/stats").json()
    shown = _text(_tagged(notebook, "stats"))
    assert f"{100 * stats['win_rate']:.1f}%" in shown
    assert "tuned preferred over base" in shown

    plot = _tagged(notebook, "plot")
    assert any("image/png" in output.get("data", {}) for output in plot.outputs)

    worst = _text(_tagged(notebook, "worst"))
    listed = re.findall(r"med-\d{4}", worst.split("<table")[0] if "<table" in worst else worst)
    items = stack.api.get(f"/v1/runs/{run['id']}/pairs").json()["items"]
    lost = {item["external_id"] for item in items if item["panel"] == "baseline"}
    assert len(set(listed)) == min(5, len(lost)) and set(listed) <= lost
