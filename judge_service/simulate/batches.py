"""The SIMULATED provider's batch APIs: OpenAI Batch and Anthropic Message Batches.

Not a real provider. A batch stays in progress for `batch_delay_s`; the first time
someone asks about it after that, every request in it is answered by `answer` (the
simulator's own live rule, see `server.py`) and the batch ends. Inside a batch there
is no rate limit, latency or transport fault; `batch_error_rate` makes a share of the
requests error instead, so partial failures can be tested. Everything is kept in
memory: a restarted simulator has lost its batches and answers 404, as a provider
that lost one would. `POST /simulator/batches/release` ends every batch in progress
at its next look, so tests need not wait out a delay.

OpenAI: `POST /v1/files` (multipart, purpose "batch": JSONL of `{custom_id, method,
url, body}`), `GET /v1/files/{id}`, `GET /v1/files/{id}/content`, `POST /v1/batches`,
`GET /v1/batches/{id}`, `POST /v1/batches/{id}/cancel`. Anthropic: `POST
/v1/messages/batches`, `GET /v1/messages/batches/{id}`, `GET
/v1/messages/batches/{id}/results`, `POST /v1/messages/batches/{id}/cancel`.
"""

import json
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

Route = Literal["openai", "anthropic"]
Answer = Callable[[Route, Any], tuple[int, dict[str, Any]]]
"""One request of a batch judged: (HTTP status, the body a live call would have got)."""

ENDPOINT = "/v1/chat/completions"
WINDOW = "24h"
WINDOW_S = 24 * 3600
_CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


class _Refused(Exception):
    """A batch request the provider refuses outright (HTTP status, message)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class _File:
    id: str
    filename: str
    purpose: str
    content: bytes
    created_at: int

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "file",
            "bytes": len(self.content),
            "created_at": self.created_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": "processed",
            "expires_at": None,
            "status_details": None,
        }


@dataclass
class _Batch:
    """One batch of either provider: its requests and, once it has ended, its results."""

    id: str
    route: Route
    requests: list[tuple[str, Any]]  # (custom_id, request body)
    created_at: float
    ready_at: float
    metadata: dict[str, Any] | None = None
    input_file_id: str | None = None
    invalid: list[dict[str, Any]] = field(default_factory=list)  # OpenAI validation errors
    results: list[tuple[str, int, dict[str, Any]]] | None = None  # (custom_id, status, body)
    ended_at: float | None = None
    cancelled: bool = False
    output_file_id: str | None = None
    error_file_id: str | None = None

    @property
    def ended(self) -> bool:
        return self.ended_at is not None


def _iso(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def _stamp(seconds: float | None) -> int | None:
    return None if seconds is None else int(seconds)


def _error(route: Route, status: int, message: str) -> JSONResponse:
    kind = "not_found_error" if status == 404 else "invalid_request_error"
    if route == "openai":
        body: dict[str, Any] = {
            "error": {"message": message, "type": kind, "param": None, "code": None}
        }
    else:
        body = {"type": "error", "error": {"type": kind, "message": message}}
    return JSONResponse(body, status_code=status)


def _jsonl(lines: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


def read_form(content_type: str, body: bytes) -> dict[str, tuple[str | None, bytes]]:
    """The fields of a multipart/form-data body: name -> (filename, bytes).

    The standard library's MIME parser does it: a form upload is all the simulator
    takes, which is not worth a dependency.
    """
    if not content_type.startswith("multipart/form-data"):
        raise _Refused(400, "expected a multipart/form-data upload")
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    fields: dict[str, tuple[str | None, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str):
            payload = part.get_payload(decode=True)
            fields[name] = (part.get_filename(), payload if isinstance(payload, bytes) else b"")
    return fields


def _openai_requests(content: bytes) -> tuple[list[tuple[str, Any]], list[dict[str, Any]]]:
    """The requests of a batch input file, and the validation errors that fail the batch."""
    requests: list[tuple[str, Any]] = []
    errors: list[dict[str, Any]] = []
    seen: set[str] = set()
    for number, line in enumerate(content.decode(errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            entry = None
        problem = None
        if not isinstance(entry, dict):
            problem = "line is not a JSON object"
        elif not isinstance(entry.get("custom_id"), str) or entry["custom_id"] in seen:
            problem = "custom_id must be a string, unique in the file"
        elif entry.get("method") != "POST" or entry.get("url") != ENDPOINT:
            problem = f"method must be POST and url {ENDPOINT}"
        elif not isinstance(entry.get("body"), dict):
            problem = "body must be a JSON object"
        if problem is not None:
            errors.append({"code": "invalid_request", "line": number, "message": problem})
            continue
        seen.add(entry["custom_id"])
        requests.append((entry["custom_id"], entry["body"]))
    if not requests and not errors:
        errors.append({"code": "empty_file", "line": None, "message": "the file has no requests"})
    return requests, errors


class BatchStore:
    """The simulator's files and batches, with counters for `/simulator/stats`."""

    def __init__(
        self, delay_s: float, answer: Answer, clock: Callable[[], float] = time.time
    ) -> None:
        self.delay_s = delay_s
        self.answer = answer
        self.clock = clock
        self.files: dict[str, _File] = {}
        self.batches: dict[str, _Batch] = {}
        self.created: Counter[str] = Counter({"openai": 0, "anthropic": 0})
        self.answered: Counter[str] = Counter({"openai": 0, "anthropic": 0})

    def stats(self) -> dict[str, Any]:
        return {"batches": dict(self.created), "batch_requests": dict(self.answered)}

    def add_file(self, filename: str, purpose: str, content: bytes) -> _File:
        prefix = "file-sim-" if purpose == "batch" else "file-sim-out-"
        stored = _File(prefix + uuid.uuid4().hex, filename, purpose, content, int(self.clock()))
        self.files[stored.id] = stored
        return stored

    def create(
        self,
        route: Route,
        requests: list[tuple[str, Any]],
        *,
        invalid: list[dict[str, Any]] | None = None,
        metadata: dict[str, Any] | None = None,
        input_file_id: str | None = None,
    ) -> _Batch:
        now = self.clock()
        prefix = "batch_sim_" if route == "openai" else "msgbatch_sim_"
        batch = _Batch(
            prefix + uuid.uuid4().hex,
            route,
            requests,
            now,
            now + self.delay_s,
            metadata,
            input_file_id,
            invalid or [],
        )
        self.batches[batch.id] = batch
        self.created[route] += 1
        return batch

    def find(self, route: Route, batch_id: str) -> _Batch:
        """The batch, brought up to date; raises 404 for one this server does not know."""
        batch = self.batches.get(batch_id)
        if batch is None or batch.route != route:
            raise _Refused(404, f"no batch {batch_id!r} on this simulated provider")
        if not batch.ended and self.clock() >= batch.ready_at:
            self._finish(batch)
        return batch

    def release(self) -> int:
        """End every batch in progress at its next look; returns how many there were."""
        waiting = [batch for batch in self.batches.values() if not batch.ended]
        for batch in waiting:
            batch.ready_at = self.clock()
        return len(waiting)

    def cancel(self, route: Route, batch_id: str) -> _Batch:
        batch = self.find(route, batch_id)
        if not batch.ended:
            batch.cancelled = True
            batch.results = []
            batch.ended_at = self.clock()
        return batch

    def _finish(self, batch: _Batch) -> None:
        """Answer every request (a batch that failed validation answers none)."""
        results = []
        if not batch.invalid:
            for custom_id, body in batch.requests:
                self.answered[batch.route] += 1
                status, answer = self.answer(batch.route, body)
                results.append((custom_id, status, answer))
        batch.results = results
        batch.ended_at = self.clock()
        if batch.route == "openai" and not batch.invalid:
            self._openai_files(batch)

    def _openai_files(self, batch: _Batch) -> None:
        """The output file (status 200) and the error file (the rest), as OpenAI splits them."""
        assert batch.results is not None
        lines: dict[bool, list[dict[str, Any]]] = {True: [], False: []}
        for custom_id, status, body in batch.results:
            lines[status == 200].append(
                {
                    "id": f"batch_req_sim_{uuid.uuid4().hex}",
                    "custom_id": custom_id,
                    "response": {
                        "status_code": status,
                        "request_id": f"req_sim_{uuid.uuid4().hex}",
                        "body": body,
                    },
                    "error": None,
                }
            )
        name = f"{batch.id}_{{}}.jsonl"
        if lines[True]:
            batch.output_file_id = self.add_file(
                name.format("output"), "batch_output", _jsonl(lines[True])
            ).id
        if lines[False]:
            batch.error_file_id = self.add_file(
                name.format("error"), "batch_output", _jsonl(lines[False])
            ).id


def openai_batch(batch: _Batch) -> dict[str, Any]:
    """OpenAI's Batch object."""
    results = batch.results or []
    if batch.invalid:
        status = "failed"
    elif batch.cancelled:
        status = "cancelled"
    elif batch.ended:
        status = "completed"
    else:
        status = "in_progress"
    completed = sum(1 for _, code, _ in results if code == 200)
    ended = batch.ended_at
    return {
        "id": batch.id,
        "object": "batch",
        "endpoint": ENDPOINT,
        "model": None,
        "errors": {"object": "list", "data": batch.invalid} if batch.invalid else None,
        "input_file_id": batch.input_file_id,
        "completion_window": WINDOW,
        "status": status,
        "output_file_id": batch.output_file_id,
        "error_file_id": batch.error_file_id,
        "created_at": _stamp(batch.created_at),
        "in_progress_at": None if batch.invalid else _stamp(batch.created_at),
        "expires_at": _stamp(batch.created_at + WINDOW_S),
        "finalizing_at": _stamp(ended) if status == "completed" else None,
        "completed_at": _stamp(ended) if status == "completed" else None,
        "failed_at": _stamp(ended) if status == "failed" else None,
        "expired_at": None,
        "cancelling_at": _stamp(ended) if status == "cancelled" else None,
        "cancelled_at": _stamp(ended) if status == "cancelled" else None,
        "request_counts": {
            "total": len(batch.requests),
            "completed": completed,
            "failed": len(results) - completed,
        },
        "metadata": batch.metadata,
    }


def anthropic_batch(batch: _Batch, results_url: str) -> dict[str, Any]:
    """Anthropic's MessageBatch object; counts other than `processing` only once it ended."""
    results = batch.results or []
    counts = Counter(_anthropic_result(batch, status)["type"] for _, status, _ in results)
    if batch.cancelled:
        counts["canceled"] = len(batch.requests)
    return {
        "id": batch.id,
        "type": "message_batch",
        "processing_status": "ended" if batch.ended else "in_progress",
        "request_counts": {
            "processing": 0 if batch.ended else len(batch.requests),
            "succeeded": counts["succeeded"],
            "errored": counts["errored"],
            "canceled": counts["canceled"],
            "expired": 0,
        },
        "ended_at": _iso(batch.ended_at),
        "created_at": _iso(batch.created_at),
        "expires_at": _iso(batch.created_at + WINDOW_S),
        "archived_at": None,
        "cancel_initiated_at": _iso(batch.ended_at) if batch.cancelled else None,
        "results_url": results_url if batch.ended else None,
    }


def _anthropic_result(batch: _Batch, status: int, body: Any = None) -> dict[str, Any]:
    if batch.cancelled:
        return {"type": "canceled"}
    if status == 200:
        return {"type": "succeeded", "message": body}
    return {"type": "errored", "error": {**(body or {}), "request_id": None}}


def _anthropic_requests(body: Any) -> list[tuple[str, Any]]:
    requests = body.get("requests") if isinstance(body, dict) else None
    if not isinstance(requests, list) or not requests:
        raise _Refused(400, "'requests' must be a non-empty list")
    seen: set[str] = set()
    parsed = []
    for index, entry in enumerate(requests):
        custom_id = entry.get("custom_id") if isinstance(entry, dict) else None
        if not isinstance(custom_id, str) or not _CUSTOM_ID.match(custom_id):
            raise _Refused(400, f"requests[{index}].custom_id must match {_CUSTOM_ID.pattern}")
        if custom_id in seen:
            raise _Refused(400, f"requests[{index}].custom_id {custom_id!r} is not unique")
        if not isinstance(entry.get("params"), dict):
            raise _Refused(400, f"requests[{index}].params must be an object")
        seen.add(custom_id)
        parsed.append((custom_id, entry["params"]))
    return parsed


async def _json(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise _Refused(400, "request body is not valid JSON") from None


def add_batch_routes(app: FastAPI, store: BatchStore) -> None:
    """Mount both providers' batch routes on the simulator app."""

    async def refused(request: Request, exc: Exception) -> Response:
        """A refusal in the format of the provider whose route was called."""
        assert isinstance(exc, _Refused)
        route: Route = "anthropic" if request.url.path.startswith("/v1/messages") else "openai"
        return _error(route, exc.status, str(exc))

    async def upload_file(request: Request) -> Response:
        fields = read_form(request.headers.get("content-type", ""), await request.body())
        purpose = fields.get("purpose", (None, b""))[1].decode(errors="replace")
        if purpose != "batch":
            raise _Refused(400, "purpose must be 'batch' (the simulator takes batch files only)")
        if "file" not in fields:
            raise _Refused(400, "'file' is required")
        filename, content = fields["file"]
        return JSONResponse(store.add_file(filename or "upload.jsonl", purpose, content).public())

    def stored_file(file_id: str) -> _File:
        if file_id not in store.files:
            raise _Refused(404, f"no file {file_id!r} on this simulated provider")
        return store.files[file_id]

    async def file_info(request: Request, file_id: str) -> Response:
        return JSONResponse(stored_file(file_id).public())

    async def file_content(request: Request, file_id: str) -> Response:
        return Response(stored_file(file_id).content, media_type="application/octet-stream")

    async def create_openai(request: Request) -> Response:
        body = await _json(request)
        if not isinstance(body, dict):
            raise _Refused(400, "request body must be a JSON object")
        if body.get("endpoint") != ENDPOINT:
            raise _Refused(400, f"endpoint must be {ENDPOINT} (the one the simulator judges)")
        if body.get("completion_window") != WINDOW:
            raise _Refused(400, f"completion_window must be {WINDOW!r}")
        source = stored_file(str(body.get("input_file_id")))
        if source.purpose != "batch":
            raise _Refused(400, "input_file_id must name a file uploaded with purpose 'batch'")
        requests, invalid = _openai_requests(source.content)
        batch = store.create(
            "openai",
            requests,
            invalid=invalid,
            metadata=body.get("metadata"),
            input_file_id=source.id,
        )
        return JSONResponse({**openai_batch(batch), "status": "validating"})

    async def get_openai(request: Request, batch_id: str) -> Response:
        return JSONResponse(openai_batch(store.find("openai", batch_id)))

    async def cancel_openai(request: Request, batch_id: str) -> Response:
        return JSONResponse(openai_batch(store.cancel("openai", batch_id)))

    def results_url(request: Request, batch: _Batch) -> str:
        return str(request.url_for("anthropic_batch_results", batch_id=batch.id))

    async def create_anthropic(request: Request) -> Response:
        batch = store.create("anthropic", _anthropic_requests(await _json(request)))
        return JSONResponse(anthropic_batch(batch, results_url(request, batch)))

    async def get_anthropic(request: Request, batch_id: str) -> Response:
        batch = store.find("anthropic", batch_id)
        return JSONResponse(anthropic_batch(batch, results_url(request, batch)))

    async def cancel_anthropic(request: Request, batch_id: str) -> Response:
        batch = store.cancel("anthropic", batch_id)
        return JSONResponse(anthropic_batch(batch, results_url(request, batch)))

    async def anthropic_results(request: Request, batch_id: str) -> Response:
        batch = store.find("anthropic", batch_id)
        if not batch.ended:
            raise _Refused(400, f"batch {batch_id!r} has not ended; its results are not ready")
        if batch.cancelled:
            canceled = {"type": "canceled"}
            lines = [{"custom_id": cid, "result": canceled} for cid, _ in batch.requests]
        else:
            lines = [
                {"custom_id": cid, "result": _anthropic_result(batch, status, body)}
                for cid, status, body in batch.results or []
            ]
        return Response(_jsonl(lines), media_type="application/binary")

    async def release(request: Request) -> dict[str, Any]:
        return {"released": store.release(), "simulated": True}

    app.add_exception_handler(_Refused, refused)
    app.post("/v1/files")(upload_file)
    app.get("/v1/files/{file_id}")(file_info)
    app.get("/v1/files/{file_id}/content")(file_content)
    app.post("/v1/batches")(create_openai)
    app.get("/v1/batches/{batch_id}")(get_openai)
    app.post("/v1/batches/{batch_id}/cancel")(cancel_openai)
    app.post("/v1/messages/batches")(create_anthropic)
    app.get("/v1/messages/batches/{batch_id}")(get_anthropic)
    app.get("/v1/messages/batches/{batch_id}/results", name="anthropic_batch_results")(
        anthropic_results
    )
    app.post("/v1/messages/batches/{batch_id}/cancel")(cancel_anthropic)
    app.post("/simulator/batches/release")(release)
