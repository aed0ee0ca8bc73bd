"""API bodies as pandas DataFrames, and exports to files.

pandas is imported here only, and only when a frame is asked for: the client
itself works without it.
"""

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

from judge_service.csv_cells import csv_cell

if TYPE_CHECKING:
    import pandas as pd

ExportFormat = Literal["parquet", "csv", "jsonl"]

# The export's columns when a run has no judgment yet (the server's order otherwise).
JUDGMENT_COLUMNS = (
    "id",
    "external_id",
    "judge",
    "order",
    "status",
    "verdict",
    "label",
    "attempts",
    "judge_model",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "reasoning_tokens",
    "system_fingerprint",
    "cost_usd",
    "cached_from_id",
    "latency_ms",
    "error_kind",
    "error",
    "template_id",
    "prompt_sha256",
    "raw_response",
    "created_at",
    "finished_at",
)
_INT_COLUMNS = (
    "id",
    "attempts",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "reasoning_tokens",
    "cached_from_id",
    "latency_ms",
)
_TIME_COLUMNS = ("created_at", "finished_at")
JUDGE_PREFIX = "judge."
META_PREFIX = "meta."


def require_pandas() -> ModuleType:
    try:
        import pandas
    except ImportError as exc:
        raise ImportError("DataFrames need pandas: pip install 'judge-service[client]'") from exc
    return pandas


def parse_jsonl(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def judgments_frame(records: Sequence[Mapping[str, Any]]) -> "pd.DataFrame":
    """One row per judge call, columns as the API exports them.

    Counts are nullable integers (a failed call has no tokens) and timestamps
    timezone-aware, so the frame compares and sorts as the values mean.
    """
    pd = require_pandas()
    columns = list(records[0]) if records else list(JUDGMENT_COLUMNS)
    frame = pd.DataFrame.from_records(list(records), columns=columns)
    for column in _INT_COLUMNS:
        if column in frame:
            frame[column] = frame[column].astype("Int64")
    for column in _TIME_COLUMNS:
        if column in frame:
            frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
    return frame


def pairs_frame(items: Iterable[Mapping[str, Any]], judges: Sequence[str]) -> "pd.DataFrame":
    """One row per pair: `panel` and `judge.<name>` outcomes, `meta.<key>` metadata.

    Outcomes are "candidate", "baseline", "tie", "inconsistent", or missing
    while a judge's orders are not all done. The prefixes keep a metadata key
    from ever shadowing a judge or a fixed column.
    """
    pd = require_pandas()
    rows = []
    for item in items:
        row: dict[str, Any] = {
            "pair_id": item["pair_id"],
            "external_id": item["external_id"],
            "panel": item.get("panel"),
        }
        per_judge = item.get("per_judge", {})
        for judge in judges:
            row[f"{JUDGE_PREFIX}{judge}"] = per_judge.get(judge)
        for key, value in (item.get("metadata") or {}).items():
            row[f"{META_PREFIX}{key}"] = value
        rows.append(row)
    fixed = ["pair_id", "external_id", "panel", *(f"{JUDGE_PREFIX}{j}" for j in judges)]
    frame = pd.DataFrame.from_records(rows, columns=None if rows else fixed)
    if rows:
        frame["pair_id"] = frame["pair_id"].astype("int64")
    return frame


def export_format(path: Path, format: str | None) -> ExportFormat:
    chosen = (format or path.suffix.lstrip(".")).lower()
    aliases = {"pq": "parquet", "ndjson": "jsonl", "parquet": "parquet", "csv": "csv"}
    chosen = aliases.get(chosen, chosen)
    if chosen not in ("parquet", "csv", "jsonl"):
        raise ValueError(
            f"cannot tell the format of {path}: pass format='parquet', 'csv' or 'jsonl'"
        )
    return chosen  # type: ignore[return-value]


def write_frame(frame: "pd.DataFrame", path: Path, format: ExportFormat) -> None:
    if format == "parquet":
        # Nested values (dicts, lists) vary per row; JSON text keeps any Parquet reader happy.
        frame = frame.copy()
        for column in frame.columns:
            if frame[column].map(lambda v: isinstance(v, dict | list)).any():
                frame[column] = frame[column].map(
                    lambda v: json.dumps(v) if isinstance(v, dict | list) else v
                )
        frame.to_parquet(path, index=False)
    elif format == "csv":
        # Text columns only: a spreadsheet must not run a cell as a formula; numbers stay numbers.
        frame = frame.copy()
        for column in frame.select_dtypes(include=["object", "string"]).columns:
            frame[column] = frame[column].map(csv_cell)
        # CRLF rows, as the server writes: Python's csv quotes a cell holding CR only when CR is
        # in the line terminator, and a spreadsheet starts a new row (and a new cell) at it.
        frame.to_csv(path, index=False, lineterminator="\r\n")
    else:
        frame.to_json(path, orient="records", lines=True, date_format="iso", force_ascii=False)
