"""Logging: one JSON object per line (containers, log collectors) or readable text (a
terminal), with the current request id on every line.

Either way a record is one line: line breaks inside a message (Alembic's migration titles)
become spaces, and uvicorn's ``color_message`` (the message again with ANSI colour codes)
is dropped. Tracebacks stay multi-line in text, and are one JSON string in JSON.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
from typing import Any, Literal

#: The id of the request being served (set by the HTTP middleware), or None.
request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "voxserve_request_id", default=None
)

LogFormat = Literal["auto", "json", "text"]

#: Record attributes that are not extra fields (``color_message``: uvicorn's ANSI copy).
_STANDARD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {
    "message", "asctime", "color_message", "taskName"}


def _one_line(text: str) -> str:
    return " ".join(text.split()) if "\n" in text or "\r" in text else text


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRIBUTES}


def _timestamp(record: logging.LogRecord) -> str:
    return (time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": _one_line(record.getMessage()),
        }
        request_id = request_id_var.get()
        if request_id is not None:
            entry["request_id"] = request_id
        entry.update(_extras(record))
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """``2026-12-04T07:41:32.813Z INFO  voxserve.server: message  key=value …``."""

    def format(self, record: logging.LogRecord) -> str:
        fields = _extras(record)
        request_id = request_id_var.get()
        if request_id is not None:
            fields = {"request_id": request_id, **fields}
        line = (f"{_timestamp(record)} {record.levelname:<5} {record.name}: "
                f"{_one_line(record.getMessage())}")
        if fields:
            line += "  " + " ".join(f"{key}={_field(value)}" for key, value in fields.items())
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def _field(value: object) -> str:
    return _one_line(value if isinstance(value, str) else json.dumps(value, default=str))


def resolve_format(log_format: LogFormat, stream: Any = None) -> Literal["json", "text"]:
    """``auto``: text on a terminal, JSON otherwise (containers, files, pipes)."""
    if log_format != "auto":
        return log_format
    stream = stream if stream is not None else sys.stderr
    isatty = getattr(stream, "isatty", None)
    return "text" if isatty is not None and isatty() else "json"


def configure_logging(level: str, *, log_format: LogFormat = "auto") -> None:
    """Send every logger (uvicorn's included) to stderr, in ``log_format``."""
    handler = logging.StreamHandler(sys.stderr)
    chosen = resolve_format(log_format, sys.stderr)
    handler.setFormatter(JsonFormatter() if chosen == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True  # voxserve writes its own access lines
