"""Log lines for people (`text`) or for a log pipeline (`json`), with the ids call sites pass.

`configure_logging` is called once by `judge-service serve`, `worker`, `reconcile` and `demo`.
It gives the root logger the one handler (stderr); uvicorn's and RQ's loggers propagate to
it, so their lines come out in the same format. Call sites pass ids as
`extra={"run_id": ..., "pair_ids": [...], "judge": ...}`: JSON fields, or `key=value`
after a text line. No log call is handed a key: a judge's key is read from the
environment at call time and goes to the SDK only (`JudgeConfig.api_key`).

A ~30-line formatter rather than a library (python-json-logger, structlog): stdlib
`extra=` is all the call sites need, and it adds no dependency to every process.
"""

import json
import logging
from datetime import UTC, datetime
from typing import Any, Literal

# What every LogRecord carries before `extra` adds to it; uvicorn's `color_message`
# repeats the message with terminal colours.
_NOT_EXTRA = frozenset(logging.makeLogRecord({}).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}
# One line per HTTP request from the SDKs' client at INFO: noise next to the chunk lines.
_CHATTY = ("httpx", "httpx2")


def record_extras(record: logging.LogRecord) -> dict[str, Any]:
    """The fields a call site passed with `extra=`."""
    return {key: value for key, value in record.__dict__.items() if key not in _NOT_EXTRA}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, the extras, a traceback if any."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **record_extras(record),
        }
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """`time level logger: message key=value ...`."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        fields = "".join(f" {key}={value}" for key, value in record_extras(record).items())
        return super().formatMessage(record) + fields


def _access_fields(record: logging.LogRecord) -> bool:
    """uvicorn's access line as fields too: client, method, path, status."""
    if isinstance(record.args, tuple) and len(record.args) == 5:
        record.client, record.method, record.path, _version, record.status = record.args
    return True


def configure_logging(log_format: Literal["text", "json"], level: str) -> None:
    """Every line to stderr in one format; the HTTP client's per-request lines only at DEBUG."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in _CHATTY:
        logging.getLogger(name).setLevel(
            logging.NOTSET if root.level <= logging.DEBUG else "WARNING"
        )
    if log_format == "json":
        logging.getLogger("uvicorn.access").addFilter(_access_fields)
