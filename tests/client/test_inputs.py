"""Loading pairs: DataFrames, lists of dicts, JSONL, CSV and Parquet, with column mapping.

The first tests check the pair bodies the client builds; the last one sends
every input kind to the real API and reads back what it stored.
"""

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from judge_service.client import JudgeClient, derive_external_id, load_pairs
from judge_service.client._flows import MAX_REQUEST_BYTES
from judge_service.client._inputs import chunk_bodies, encode_pair
from judge_service.config import DEFAULT_MAX_BODY_BYTES
from judge_service.demo.sample import sample_pairs
from tests.client.conftest import unique
from tests.conftest import Stack

ROWS = [
    {
        "id": "q1",
        "prompt": "What does the CT show?",
        "answer": "appendicitis",
        "base_out": "Final answer: adenitis",
        "tuned_out": "Final answer: appendicitis",
        "modality": "CT",
        "difficulty": 3,
        "reviewed": True,
    },
    {
        "id": "q2",
        "prompt": "What does the X-ray show?",
        "answer": "pneumothorax",
        "base_out": "Final answer: pneumothorax",
        "tuned_out": "Final answer: effusion",
        "modality": "X-ray",
        "difficulty": 1,
        "reviewed": False,
    },
]
MAPPING = {
    "external_id": "id",
    "question": "prompt",
    "reference_answer": "answer",
    "baseline_trace": "base_out",
    "candidate_trace": "tuned_out",
}
EXPECTED = [
    {
        "external_id": "q1",
        "question": "What does the CT show?",
        "baseline_trace": "Final answer: adenitis",
        "candidate_trace": "Final answer: appendicitis",
        "reference_answer": "appendicitis",
        "image_urls": [],
        "metadata": {"modality": "CT", "difficulty": 3, "reviewed": True},
    },
    {
        "external_id": "q2",
        "question": "What does the X-ray show?",
        "baseline_trace": "Final answer: pneumothorax",
        "candidate_trace": "Final answer: effusion",
        "reference_answer": "pneumothorax",
        "image_urls": [],
        "metadata": {"modality": "X-ray", "difficulty": 1, "reviewed": False},
    },
]


def _write(kind: str, rows: list[dict[str, Any]], directory: Path) -> Path:
    path = directory / f"pairs.{kind}"
    if kind == "jsonl":
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    elif kind == "csv":
        pd.DataFrame(rows).to_csv(path, index=False)
    else:
        pd.DataFrame(rows).to_parquet(path)
    return path


def test_dataframe_list_and_typed_files_give_the_same_pairs(tmp_path: Path) -> None:
    assert load_pairs(pd.DataFrame(ROWS), MAPPING).pairs == EXPECTED
    assert load_pairs(ROWS, MAPPING).pairs == EXPECTED
    assert load_pairs(_write("jsonl", ROWS, tmp_path), MAPPING).pairs == EXPECTED
    assert load_pairs(str(_write("parquet", ROWS, tmp_path)), MAPPING).pairs == EXPECTED


def test_csv_values_arrive_as_text(tmp_path: Path) -> None:
    pairs = load_pairs(_write("csv", ROWS, tmp_path), MAPPING).pairs
    assert [p["metadata"] for p in pairs] == [
        {"modality": "CT", "difficulty": "3", "reviewed": "True"},
        {"modality": "X-ray", "difficulty": "1", "reviewed": "False"},
    ]
    assert [p["external_id"] for p in pairs] == ["q1", "q2"]


def test_default_columns_and_a_metadata_column_of_dicts() -> None:
    sample = sample_pairs(3)
    pairs = load_pairs(sample).pairs
    assert [p["external_id"] for p in pairs] == ["med-0001", "med-0002", "med-0003"]
    assert pairs[0]["metadata"] == sample[0]["metadata"]
    # Extra columns join the metadata dict; missing values are left out.
    frame = pd.DataFrame(sample).assign(split=["dev", None, "test"])
    loaded = load_pairs(frame).pairs
    assert loaded[0]["metadata"] == {**sample[0]["metadata"], "split": "dev"}
    assert "split" not in loaded[1]["metadata"]


def test_traces_in_columns_named_after_the_models() -> None:
    rows = [{"question": "q?", "base": "Final answer: a", "tuned": "Final answer: b"}]
    (pair,) = load_pairs(rows, baseline="base", candidate="tuned").pairs
    assert (pair["baseline_trace"], pair["candidate_trace"]) == (
        "Final answer: a",
        "Final answer: b",
    )
    assert pair["metadata"] == {}


def test_derived_ids_are_stable_and_identical_rows_judged_once() -> None:
    rows = [
        {"question": "q1", "baseline_trace": "a", "candidate_trace": "b"},
        {"question": "q2", "baseline_trace": "a", "candidate_trace": "b", "reference_answer": "b"},
        {"question": "q1", "baseline_trace": "a", "candidate_trace": "b"},
    ]
    prepared = load_pairs(rows)
    assert prepared.dropped_duplicates == 1
    assert prepared.external_ids == [
        derive_external_id("q1", "a", "b", None),
        derive_external_id("q2", "a", "b", "b"),
    ]
    # Same content, same id, whatever the row order.
    assert load_pairs([rows[1], rows[0]]).external_ids == prepared.external_ids[::-1]
    assert all(i.startswith("auto-") and len(i) == 37 for i in prepared.external_ids)


def test_images_and_odd_values() -> None:
    frame = pd.DataFrame(
        {
            "question": ["q1", "q2", "q3"],
            "baseline_trace": ["a", "a", "a"],
            "candidate_trace": ["b", "c", "d"],
            "image_urls": [["https://x.org/1.png"], '["https://x.org/2.png"]', None],
            "when": pd.to_datetime(["2026-01-02", None, "2026-01-03"]),
            "score": [0.5, float("nan"), 2.0],
            "tags": [["x", "y"], None, None],
        }
    )
    pairs = load_pairs(frame).pairs
    assert [p["image_urls"] for p in pairs] == [
        ["https://x.org/1.png"],
        ["https://x.org/2.png"],
        [],
    ]
    assert pairs[0]["metadata"] == {
        "when": "2026-01-02T00:00:00",
        "score": 0.5,
        "tags": '["x", "y"]',
    }
    assert pairs[1]["metadata"] == {}


@pytest.mark.parametrize(
    ("rows", "columns", "message"),
    [
        ([{"question": "q"}], None, "no column for ['baseline_trace', 'candidate_trace']"),
        (ROWS, {"question": "nope"}, "'nope', which is not a column"),
        (ROWS, {"answer": "prompt"}, "unknown fields ['answer']"),
        (
            [{"question": "", "baseline_trace": "a", "candidate_trace": "b"}],
            None,
            "row 0: question",
        ),
        (
            [
                {
                    "external_id": "x",
                    "question": "q",
                    "baseline_trace": "a",
                    "candidate_trace": "b",
                },
                {
                    "external_id": "x",
                    "question": "r",
                    "baseline_trace": "a",
                    "candidate_trace": "b",
                },
            ],
            None,
            "external_id 'x' is in rows 0 and 1",
        ),
    ],
)
def test_bad_input_is_named(
    rows: list[dict[str, Any]], columns: dict[str, str] | None, message: str
) -> None:
    with pytest.raises(ValueError, match=None) as caught:
        load_pairs(rows, columns)
    assert message in str(caught.value)


def test_unreadable_inputs(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="one dict"):
        load_pairs(ROWS[0])
    with pytest.raises(ValueError, match="unknown file type"):
        load_pairs(tmp_path / "pairs.xlsx")


def test_request_bodies_stay_within_the_byte_limit() -> None:
    encoded = [encode_pair(pair) for pair in sample_pairs(40)]
    # Exactly the first three pairs: the envelope, the pairs and two commas.
    limit = len(b'{"pairs":[]}') + sum(len(pair) for pair in encoded[:3]) + 2
    chunks = chunk_bodies(encoded, chunk_size=10, max_bytes=limit)
    assert chunks[0][:2] == (0, 3) and len(chunks[0][2]) == limit
    assert all(len(body) <= limit for start, end, body in chunks if end - start > 1)
    sent = [pair for _, _, body in chunks for pair in json.loads(body)["pairs"]]
    assert sent == [json.loads(pair) for pair in encoded]
    assert MAX_REQUEST_BYTES == DEFAULT_MAX_BODY_BYTES  # the client splits where the server refuses


@pytest.mark.parametrize("kind", ["dataframe", "dicts", "jsonl", "csv", "parquet"])
def test_every_input_kind_reaches_the_api_as_sent(
    kind: str, stack: Stack, client: JudgeClient, tmp_path: Path
) -> None:
    data: Any
    if kind == "dataframe":
        data = pd.DataFrame(ROWS)
    elif kind == "dicts":
        data = ROWS
    else:
        data = _write(kind, ROWS, tmp_path)
    run = client.compare(
        data, judges=["sim"], columns=MAPPING, name=unique(kind), wait=False, progress=False
    )
    assert (run.upload.accepted, run.counts.pairs) == (2, 2)
    items = stack.api.get(f"/v1/runs/{run.id}/pairs").json()["items"]
    stored = {item["external_id"]: item["metadata"] for item in items}
    expected = {p["external_id"]: p["metadata"] for p in EXPECTED}
    if kind == "csv":
        expected = {k: {m: str(v) for m, v in meta.items()} for k, meta in expected.items()}
    assert stored == expected
