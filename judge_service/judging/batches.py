"""Provider batch APIs through the official SDKs: OpenAI Batch and Anthropic Message Batches.

Every request in a batch is the body a live call sends (`openai_body`, `anthropic_body`)
and every answer is read like a live reply (`openai_reply`, `anthropic_reply`), so a
verdict means the same in either mode. The clients are synchronous: they run in the
worker's own loop (`jobs/batch_mode.py`), one call at a time, never inside a job.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final, Protocol

import anthropic
import openai

from judge_service.config import JudgeConfig
from judge_service.judging.providers import (
    JudgeCall,
    anthropic_body,
    client_options,
    describe_error,
    openai_body,
)
from judge_service.judging.replies import JudgeReply, MalformedReply, anthropic_reply, openai_reply

BATCH_WINDOW_S = 24 * 3600
"""Both providers finish a batch within 24 hours or expire what is left."""
ENDPOINT: Final = "/v1/chat/completions"
_OPENAI_ENDED = {"completed", "failed", "expired", "cancelled"}


class BatchNotFound(Exception):
    """The provider does not know the batch (lost, deleted, or another account's)."""


@dataclass(frozen=True)
class BatchState:
    status: str  # the provider's own word: in_progress, completed, ended, ...
    ended: bool
    error: str | None = None  # why the whole batch failed (OpenAI input validation)
    result_files: tuple[str, ...] = ()  # OpenAI's output and error files


@dataclass(frozen=True)
class Answer:
    """One request's outcome: a reply, or why there is none."""

    custom_id: str
    reply: JudgeReply | None = None
    error: str | None = None


class BatchClient(Protocol):
    def submit(self, requests: list[tuple[str, JudgeCall]], label: str) -> str:
        """Send the requests (custom id, call) as one batch; returns the provider's id."""
        ...

    def state(self, batch_id: str) -> BatchState:
        """Where the batch is; raises `BatchNotFound` when the provider does not know it."""
        ...

    def answers(self, batch_id: str, state: BatchState) -> Iterator[Answer]:
        """The answers of an ended batch, in the provider's order."""
        ...

    def cancel(self, batch_id: str) -> None: ...

    def close(self) -> None: ...


class OpenAIBatches:
    """A JSONL file of Chat Completions requests, uploaded, then one batch over it."""

    def __init__(self, config: JudgeConfig) -> None:
        self._config = config
        self._client = openai.OpenAI(**client_options(config))

    def submit(self, requests: list[tuple[str, JudgeCall]], label: str) -> str:
        lines = [
            {
                "custom_id": custom_id,
                "method": "POST",
                "url": ENDPOINT,
                "body": openai_body(self._config, call),
            }
            for custom_id, call in requests
        ]
        data = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode()
        uploaded = self._client.files.create(
            file=(f"{label}.jsonl", data, "application/jsonl"), purpose="batch"
        )
        batch = self._client.batches.create(
            input_file_id=uploaded.id,
            endpoint=ENDPOINT,
            completion_window="24h",
            metadata={"judge_service": label},
        )
        return batch.id

    def state(self, batch_id: str) -> BatchState:
        try:
            batch = self._client.batches.retrieve(batch_id)
        except openai.NotFoundError as exc:
            raise BatchNotFound(batch_id) from exc
        errors = batch.errors.data if batch.errors and batch.errors.data else []
        files = tuple(name for name in (batch.output_file_id, batch.error_file_id) if name)
        return BatchState(
            status=batch.status,
            ended=batch.status in _OPENAI_ENDED,
            error="; ".join(f"line {e.line}: {e.message}" for e in errors) or None,
            result_files=files,
        )

    def answers(self, batch_id: str, state: BatchState) -> Iterator[Answer]:
        for file_id in state.result_files:
            for line in self._client.files.content(file_id).text.splitlines():
                if line.strip():
                    yield self._answer(json.loads(line))

    def _answer(self, entry: dict[str, Any]) -> Answer:
        custom_id = str(entry.get("custom_id"))
        response = entry.get("response") or {}
        status = response.get("status_code")
        if status == 200:
            try:
                body = response.get("body")
                reply = openai_reply(body, self._config, self._config.structured, None)
            except MalformedReply as exc:
                return Answer(custom_id, error=describe_error(exc)[1])
            return Answer(custom_id, reply=reply)
        error = (response.get("body") or {}).get("error") or entry.get("error") or {}
        kind = error.get("type") or error.get("code") or "error"
        return Answer(custom_id, error=f"HTTP {status}: {kind}" if status else str(kind))

    def cancel(self, batch_id: str) -> None:
        self._client.batches.cancel(batch_id)

    def close(self) -> None:
        self._client.close()


class AnthropicBatches:
    """One Message Batch holding every request; results streamed as JSONL."""

    def __init__(self, config: JudgeConfig) -> None:
        self._config = config
        self._client = anthropic.Anthropic(**client_options(config))

    def submit(self, requests: list[tuple[str, JudgeCall]], label: str) -> str:
        batch = self._client.messages.batches.create(
            requests=[
                {"custom_id": custom_id, "params": anthropic_body(self._config, call)}  # type: ignore[typeddict-item]
                for custom_id, call in requests
            ]
        )
        return batch.id

    def state(self, batch_id: str) -> BatchState:
        try:
            batch = self._client.messages.batches.retrieve(batch_id)
        except anthropic.NotFoundError as exc:
            raise BatchNotFound(batch_id) from exc
        return BatchState(status=batch.processing_status, ended=batch.processing_status == "ended")

    def answers(self, batch_id: str, state: BatchState) -> Iterator[Answer]:
        for entry in self._client.messages.batches.results(batch_id):
            result = entry.result
            if result.type == "succeeded":
                try:
                    message = result.message.to_dict()
                    reply = anthropic_reply(message, self._config, self._config.structured, None)
                except MalformedReply as exc:
                    yield Answer(entry.custom_id, error=describe_error(exc)[1])
                    continue
                yield Answer(entry.custom_id, reply=reply)
            elif result.type == "errored":
                yield Answer(entry.custom_id, error=f"errored: {result.error.error.type}")
            else:
                yield Answer(entry.custom_id, error=result.type)

    def cancel(self, batch_id: str) -> None:
        self._client.messages.batches.cancel(batch_id)

    def close(self) -> None:
        self._client.close()


def batch_client(config: JudgeConfig) -> BatchClient:
    if config.provider == "anthropic":
        return AnthropicBatches(config)
    return OpenAIBatches(config)
