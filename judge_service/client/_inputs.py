"""From what a researcher has (a DataFrame, dicts, a file) to the API's pair bodies.

Nothing here imports pandas: a DataFrame is read through its own methods, so
`import judge_service.client` stays light for scripts that never use one.
"""

import csv
import datetime as dt
import hashlib
import json
import math
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["PAIR_FIELDS", "PreparedPairs", "derive_external_id", "load_pairs", "read_records"]

PAIR_FIELDS = (
    "external_id",
    "question",
    "baseline_trace",
    "candidate_trace",
    "reference_answer",
    "image_urls",
    "metadata",
)
REQUIRED = ("question", "baseline_trace", "candidate_trace")
DERIVED_PREFIX = "auto-"
MAX_METADATA_STR = 1000

# Traces run to 200,000 characters, past the csv module's 131,072 default.
_CSV_FIELD_LIMIT = 16 * 1024 * 1024


@dataclass(frozen=True)
class PreparedPairs:
    """Pair bodies ready to post, in input order, one per distinct external_id."""

    pairs: list[dict[str, Any]]
    dropped_duplicates: int  # rows identical (same derived id) to an earlier row

    @property
    def external_ids(self) -> list[str]:
        return [pair["external_id"] for pair in self.pairs]


def read_records(data: Any) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows as dicts and the column names, from any accepted input."""
    if isinstance(data, str | os.PathLike):
        return _read_path(Path(data))
    if _is_dataframe(data):
        columns = [str(column) for column in data.columns]
        rows = data.to_dict(orient="records")
        return [{str(k): v for k, v in row.items()} for row in rows], columns
    if isinstance(data, Mapping):
        raise TypeError(
            "expected many pairs (a DataFrame, a list of dicts or a path), got one dict"
        )
    if isinstance(data, Iterable):
        records = []
        for index, row in enumerate(data):
            if not isinstance(row, Mapping):
                raise TypeError(f"row {index} is a {type(row).__name__}, not a dict")
            records.append({str(k): v for k, v in row.items()})
        return records, _union_keys(records)
    raise TypeError(
        f"cannot read pairs from a {type(data).__name__}: pass a pandas DataFrame, a list of "
        "dicts, or a path to a .jsonl, .csv or .parquet file"
    )


def _is_dataframe(data: Any) -> bool:
    return type(data).__module__.startswith("pandas") and hasattr(data, "to_dict")


def _union_keys(records: Sequence[Mapping[str, Any]]) -> list[str]:
    seen: dict[str, None] = {}
    for record in records:
        seen.update(dict.fromkeys(record))
    return list(seen)


def _read_path(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        with path.open(encoding="utf-8") as f:
            records = [json.loads(line) for line in f if line.strip()]
        return records, _union_keys(records)
    if suffix == ".json":
        records = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(records, list):
            raise ValueError(f"{path}: expected a JSON array of pairs")
        return records, _union_keys(records)
    if suffix == ".csv":
        csv.field_size_limit(max(csv.field_size_limit(), min(sys.maxsize, _CSV_FIELD_LIMIT)))
        with path.open(encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            records = [dict(row) for row in reader]
            return records, list(reader.fieldnames or [])
    if suffix in (".parquet", ".pq"):
        try:
            import pyarrow.parquet as pq
        except ImportError as exc:
            raise ImportError(
                "reading Parquet needs pyarrow: pip install 'judge-service[client]'"
            ) from exc
        table = pq.read_table(path)
        return table.to_pylist(), list(table.column_names)
    raise ValueError(f"{path}: unknown file type {suffix!r}; use .jsonl, .json, .csv or .parquet")


def _resolve_columns(
    available: Sequence[str],
    columns: Mapping[str, str] | None,
    baseline: str | None,
    candidate: str | None,
) -> dict[str, str]:
    """Field -> source column. Explicit mapping first, then the field's own name.

    As a last resort the traces may sit in columns named after the models
    (`baseline="base"` and a `base` column), which is how many notebooks hold them.
    """
    columns = dict(columns or {})
    unknown = set(columns) - set(PAIR_FIELDS)
    if unknown:
        raise ValueError(
            f"columns= maps unknown fields {sorted(unknown)}; the fields are {list(PAIR_FIELDS)}"
        )
    present = set(available)
    mapping: dict[str, str] = {}
    for name, source in columns.items():
        if source not in present:
            raise ValueError(
                f"columns maps {name!r} to {source!r}, which is not a column; "
                f"columns are {list(available)}"
            )
        mapping[name] = source
    fallbacks = {"baseline_trace": baseline, "candidate_trace": candidate}
    taken = set(mapping.values())
    for name in PAIR_FIELDS:
        if name in mapping:
            continue
        if name in present and name not in taken:
            mapping[name] = name
        elif (fallback := fallbacks.get(name)) and fallback in present and fallback not in taken:
            mapping[name] = fallback
        taken = set(mapping.values())
    missing = [name for name in REQUIRED if name not in mapping]
    if missing:
        raise ValueError(
            f"no column for {missing}; columns are {list(available)}. "
            "Name them, e.g. columns={'question': 'prompt', 'baseline_trace': 'base_output', "
            "'candidate_trace': 'tuned_output'}"
        )
    return mapping


def load_pairs(
    data: Any,
    columns: Mapping[str, str] | None = None,
    *,
    baseline: str | None = None,
    candidate: str | None = None,
) -> PreparedPairs:
    """Pair bodies for `POST /v1/runs/{id}/pairs` from a DataFrame, dicts or a file.

    `columns` maps a pair field to your column (`{"question": "prompt"}`);
    unmapped fields use the column of the same name. Every other column becomes
    metadata, merged with a `metadata` column of dicts if there is one. Without
    an `external_id` column, each pair's id is a hash of its question, traces
    and reference answer, so the same data always gets the same ids.
    """
    records, available = read_records(data)
    mapping = _resolve_columns(available, columns, baseline, candidate)
    used = set(mapping.values())
    pairs: list[dict[str, Any]] = []
    first_row: dict[str, int] = {}
    dropped = 0
    for row_number, record in enumerate(records):
        pair, derived = _pair(record, mapping, used, row_number)
        external_id = pair["external_id"]
        if external_id in first_row:
            if derived:
                dropped += 1  # the same question and traces twice: judge them once
                continue
            raise ValueError(
                f"external_id {external_id!r} is in rows {first_row[external_id]} and "
                f"{row_number}; each pair needs its own id"
            )
        first_row[external_id] = row_number
        pairs.append(pair)
    return PreparedPairs(pairs=pairs, dropped_duplicates=dropped)


def _pair(
    record: Mapping[str, Any], mapping: Mapping[str, str], used: set[str], row: int
) -> tuple[dict[str, Any], bool]:
    """One pair body, and whether its external_id was derived from its content."""

    def value(name: str) -> Any:
        column = mapping.get(name)
        return None if column is None else _plain(record.get(column))

    pair: dict[str, Any] = {}
    for name in REQUIRED:
        text = value(name)
        if _missing(text) or (isinstance(text, str) and not text.strip()):
            raise ValueError(f"row {row}: {name} (column {mapping[name]!r}) is empty")
        pair[name] = str(text)
    reference = value("reference_answer")
    pair["reference_answer"] = None if _missing(reference) else str(reference)
    pair["image_urls"] = _image_urls(value("image_urls"))
    pair["metadata"] = _metadata(record, mapping.get("metadata"), used)
    external_id = value("external_id")
    derived = _missing(external_id) or str(external_id) == ""
    pair["external_id"] = (
        derive_external_id(
            pair["question"],
            pair["baseline_trace"],
            pair["candidate_trace"],
            pair["reference_answer"],
        )
        if derived
        else str(external_id)
    )
    return {"external_id": pair.pop("external_id"), **pair}, derived


def derive_external_id(
    question: str, baseline_trace: str, candidate_trace: str, reference_answer: str | None
) -> str:
    """A stable id from the pair's content: the same data maps to the same id on every call."""
    digest = hashlib.sha256(
        json.dumps(
            [question, baseline_trace, candidate_trace, reference_answer], ensure_ascii=False
        ).encode("utf-8")
    ).hexdigest()
    return f"{DERIVED_PREFIX}{digest[:32]}"


def _plain(value: Any) -> Any:
    """numpy and pandas scalars as Python values (without importing either)."""
    module = type(value).__module__
    if module.startswith("numpy") and hasattr(value, "tolist"):
        return value.tolist()  # scalars and arrays alike
    if type(value).__name__ in ("NAType", "NaTType"):
        return None
    if module.startswith("pandas") and hasattr(value, "to_pydatetime"):
        return value.to_pydatetime()
    return value


def _missing(value: Any) -> bool:
    value = _plain(value)
    return value is None or (isinstance(value, float) and math.isnan(value))


def _image_urls(value: Any) -> list[str]:
    value = _plain(value)
    if _missing(value):
        return []
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        if text.startswith("["):  # a list that went through CSV
            return [str(url) for url in json.loads(text)]
        return [text]
    if isinstance(value, Iterable):
        return [str(url) for url in value]
    raise ValueError(f"image_urls must be a list of URLs, got {type(value).__name__}")


def _metadata(
    record: Mapping[str, Any], metadata_column: str | None, used: set[str]
) -> dict[str, Any]:
    metadata: dict[str, Any] = {}
    if metadata_column is not None:
        given = _plain(record.get(metadata_column))
        if isinstance(given, str) and given.strip().startswith("{"):
            given = json.loads(given)  # a dict that went through CSV
        if isinstance(given, Mapping):
            metadata.update({str(k): v for k, v in given.items()})
        elif not _missing(given) and given != "":
            raise ValueError(f"column {metadata_column!r} must hold dicts, got {given!r}")
    for column, value in record.items():
        if column not in used:
            metadata[column] = value
    cleaned = {}
    for key, value in metadata.items():
        scalar = _scalar(value)
        if scalar is not None:
            cleaned[key] = scalar
    return cleaned


def _scalar(value: Any) -> str | int | float | bool | None:
    """Metadata is flat: str, int, float or bool. Missing values are left out."""
    value = _plain(value)
    if _missing(value):
        return None
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, ensure_ascii=False, default=str)[:MAX_METADATA_STR]
    return str(value)[:MAX_METADATA_STR]


_ENVELOPE = (b'{"pairs":[', b"]}")


def encode_pair(pair: Mapping[str, Any]) -> bytes:
    return json.dumps(pair, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


def chunk_bodies(
    encoded: Sequence[bytes], chunk_size: int, max_bytes: int
) -> list[tuple[int, int, bytes]]:
    """(start, end, body) per request: at most `chunk_size` pairs and `max_bytes` bytes.

    The envelope and commas count too, so a body never exceeds the server's limit
    unless a single pair does (it then goes alone, and the server's 413 names the limit).
    """
    chunks: list[tuple[int, int, bytes]] = []
    start = 0
    while start < len(encoded):
        end, size = start, len(_ENVELOPE[0] + _ENVELOPE[1])
        while end < len(encoded) and end - start < chunk_size:
            added = len(encoded[end]) + (end > start)  # a comma after the first
            if end > start and size + added > max_bytes:
                break
            size += added
            end += 1
        chunks.append((start, end, _ENVELOPE[0] + b",".join(encoded[start:end]) + _ENVELOPE[1]))
        start = end
    return chunks
