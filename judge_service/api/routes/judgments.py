"""Every judge call of a run, streamed as JSON lines or CSV."""

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from judge_service.api.schemas import NO_RUN
from judge_service.csv_cells import csv_cell
from judge_service.db.queries import JUDGMENT_EXPORT_COLUMNS, iter_judgments
from judge_service.web.auth import AUTH_RESPONSES, ProjectDep
from judge_service.web.deps import RowId, SessionDep, SessionsDep, get_run

router = APIRouter(prefix="/v1/runs", tags=["judgments"], responses=AUTH_RESPONSES)

FIELDS = [column.key for column in JUDGMENT_EXPORT_COLUMNS]


def _record(row: Any) -> dict[str, Any]:
    return {
        key: value.isoformat() if isinstance(value, datetime) else value
        for key, value in zip(FIELDS, row, strict=True)
    }


def _jsonl(records: Iterator[dict[str, Any]]) -> Iterator[str]:
    for record in records:
        yield json.dumps(record, ensure_ascii=False) + "\n"


def _csv(records: Iterator[dict[str, Any]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=FIELDS)
    writer.writeheader()
    for record in records:
        # Nested values (per-axis rulings) stay machine-readable as JSON in their cell; text
        # that a spreadsheet would run as a formula is quoted.
        writer.writerow(
            {
                k: json.dumps(v) if isinstance(v, dict | list) else csv_cell(v)
                for k, v in record.items()
            }
        )
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


@router.get(
    "/{run_id}/judgments",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "One record per judge call: JSON lines, or CSV with a header row",
            "content": {"application/x-ndjson": {}, "text/csv": {}},
        },
        404: NO_RUN,
    },
)
def export_judgments(
    run_id: RowId,
    session: SessionDep,
    sessions: SessionsDep,
    project: ProjectDep,
    format: Literal["jsonl", "csv"] = "jsonl",
) -> StreamingResponse:
    get_run(session, run_id, project)

    def records() -> Iterator[dict[str, Any]]:
        # Its own session: the request's may be closed before streaming ends.
        with sessions() as stream_session:
            for row in iter_judgments(stream_session, run_id):
                yield _record(row)

    if format == "csv":
        return StreamingResponse(_csv(records()), media_type="text/csv")
    return StreamingResponse(_jsonl(records()), media_type="application/x-ndjson")
