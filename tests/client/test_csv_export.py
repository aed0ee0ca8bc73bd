"""The client's CSV exports (`run.export`, `judge-service export`) quote formula-like text.

Pairs go through a DataFrame written by the client; judgments stream from the server's CSV.
"""

import csv
from pathlib import Path

import httpx
import pandas as pd

from judge_service.client import JudgeClient
from judge_service.client._frames import write_frame
from judge_service.demo.sample import sample_pairs
from tests.api.test_csv_export import FORMULAS, PLAIN
from tests.conftest import create_run


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as file:
        return list(csv.DictReader(file))


def test_write_frame_quotes_text_cells_only(tmp_path: Path) -> None:
    names = FORMULAS + PLAIN
    frame = pd.DataFrame(
        {
            "external_id": names,
            "score": [-0.5] * len(names),
            "count": [-3] * len(names),
            "mixed": [-1.5, "-1.5", *PLAIN, *FORMULAS[:2], None, 7],
        }
    )
    write_frame(frame, tmp_path / "out.csv", "csv")
    rows = _rows(tmp_path / "out.csv")
    assert [row["external_id"] for row in rows] == ["'" + n for n in FORMULAS] + PLAIN
    assert {row["score"] for row in rows} == {"-0.5"}
    assert {row["count"] for row in rows} == {"-3"}
    assert (
        [row["mixed"] for row in rows]
        == [
            "-1.5",  # a number in a text column is still a number
            "'-1.5",  # text that a spreadsheet would read as a formula
            *PLAIN,
            *("'" + f for f in FORMULAS[:2]),
            "",
            "7",
        ]
    )
    assert frame["external_id"].tolist() == names  # the caller's frame is left as it was


def test_exported_pairs_and_judgments_quote_formulas(pg_api: httpx.Client, tmp_path: Path) -> None:
    run = create_run(pg_api, ["sim"])
    pairs = sample_pairs(len(FORMULAS))
    for pair, name in zip(pairs, FORMULAS, strict=True):
        pair["external_id"] = name
        pair["metadata"] = {"note": name, "score": -0.5}
    assert pg_api.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": pairs}).status_code == 202
    quoted = sorted("'" + name for name in FORMULAS)
    with JudgeClient(str(pg_api.base_url)) as client:
        exported = client.run(run["id"]).export(tmp_path / "pairs.csv", what="pairs")
        rows = _rows(exported)
        assert sorted(row["external_id"] for row in rows) == quoted
        assert sorted(row["meta.note"] for row in rows) == quoted
        assert {row["meta.score"] for row in rows} == {"-0.5"}
        judgments = _rows(client.run(run["id"]).export(tmp_path / "judgments.csv"))
        assert sorted(row["external_id"] for row in judgments) == sorted(2 * quoted)
