"""Log lines: JSON for machines, text for people; one line per record either way."""

from __future__ import annotations

import io
import json
import logging

import pytest

from voxserve.logs import JsonFormatter, TextFormatter, request_id_var, resolve_format


def _record(message: str, **extra: object) -> logging.LogRecord:
    record = logging.makeLogRecord({"name": "alembic.runtime.migration", "levelno": 20,
                                    "levelname": "INFO", "msg": message, "args": ()})
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def test_json_has_no_colour_codes_and_one_line_messages() -> None:
    record = _record("Running upgrade 0001 -> 0002, Chapters are assembled;\npublished once.",
                     color_message="Started \x1b[36m%d\x1b[0m", engines=["fake"])
    line = JsonFormatter().format(record)
    entry = json.loads(line)
    assert "\n" not in line and "\x1b" not in line and "\\u001b" not in line
    assert "color_message" not in entry
    assert entry["msg"] == "Running upgrade 0001 -> 0002, Chapters are assembled; published once."
    assert entry["engines"] == ["fake"] and entry["level"] == "info"


def test_text_is_readable_with_fields_and_request_id() -> None:
    token = request_id_var.set("req-1")
    try:
        line = TextFormatter().format(_record("GET /healthz 200\nmore", status=200,
                                              color_message="x"))
    finally:
        request_id_var.reset(token)
    assert line.endswith("INFO  alembic.runtime.migration: GET /healthz 200 more  "
                         "request_id=req-1 status=200")
    assert "\n" not in line and "color_message" not in line


def test_text_keeps_tracebacks() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record = _record("failed")
        record.exc_info = sys.exc_info()
    text = TextFormatter().format(record)
    assert text.splitlines()[0].endswith("failed") and "ValueError: boom" in text


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("setting", "stream", "chosen"), [
    ("auto", _Tty(), "text"), ("auto", io.StringIO(), "json"), ("json", _Tty(), "json"),
    ("text", io.StringIO(), "text"),
])
def test_auto_is_text_on_a_terminal_only(setting: str, stream: io.StringIO,
                                         chosen: str) -> None:
    assert resolve_format(setting, stream) == chosen  # type: ignore[arg-type]
