"""Audit log: one record per authenticated action (who, what, when, how much).

Records never contain the request text unless ``audit_log_text`` is on; by default they carry
its length and SHA-256 (enough to match a complaint about a given text without keeping it).

Event fields: ``ts`` (UTC ISO-8601), ``request_id``, ``subject``, ``key_id``,
``auth_method``, ``method``, ``route`` (the route template), ``status``, ``characters``,
``text_sha256``, ``text`` (only with ``audit_log_text``), ``client``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypedDict

from voxserve.errors import ConfigurationError
from voxserve.security.principal import Principal
from voxserve.settings import Settings

logger = logging.getLogger(__name__)


class AuditEvent(TypedDict, total=False):
    ts: str
    request_id: str | None
    subject: str
    key_id: str | None
    auth_method: str
    method: str
    route: str
    status: int
    characters: int | None
    text_sha256: str | None
    text: str
    client: str | None


class AuditLog(Protocol):
    def record(self, event: AuditEvent) -> None: ...

    def close(self) -> None: ...


def audit_event(
    *,
    principal: Principal,
    method: str,
    route: str,
    status: int,
    request_id: str | None = None,
    text: str | None = None,
    characters: int | None = None,
    client: str | None = None,
    include_text: bool = False,
) -> AuditEvent:
    """Build an event; ``text`` becomes ``characters`` + ``text_sha256`` (and ``text`` only
    with ``include_text``)."""
    event: AuditEvent = {
        "ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "request_id": request_id,
        "subject": principal.subject,
        "key_id": principal.key_id,
        "auth_method": principal.auth_method,
        "method": method,
        "route": route,
        "status": status,
        "characters": characters if characters is not None else (
            len(text) if text is not None else None),
        "text_sha256": (hashlib.sha256(text.encode("utf-8")).hexdigest()
                        if text is not None else None),
        "client": client,
    }
    if include_text and text is not None:
        event["text"] = text
    return event


class NullAuditLog:
    def record(self, event: AuditEvent) -> None:
        pass

    def close(self) -> None:
        pass


class FileAuditLog:
    """JSON lines appended to ``path`` (mode 0600); one ``write`` per record on an
    ``O_APPEND`` descriptor, so records of several processes do not interleave inside a line.
    No fsync, no rotation (use logrotate with ``copytruncate``)."""

    def __init__(self, path: Path, *, include_text: bool = False) -> None:
        self.path = path.expanduser()
        self.include_text = include_text
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._fd: int | None = os.open(
            self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600
        )
        self._lock = threading.Lock()

    def record(self, event: AuditEvent) -> None:
        data: dict[str, Any] = dict(event)
        if not self.include_text:
            data.pop("text", None)  # defence in depth: never written unless asked for
        line = (json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        with self._lock:
            if self._fd is None:
                return
            try:
                os.write(self._fd, line)
            except OSError as exc:  # a full disk must not fail the request
                logger.error("audit log write failed: %s", exc)

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


def default_audit_log_path(settings: Settings) -> Path:
    return (settings.audit_log_file or settings.data_dir / "audit.jsonl").expanduser()


def create_audit_log(settings: Settings) -> AuditLog:
    if settings.audit_log == "none":
        return NullAuditLog()
    if settings.audit_log == "file":
        return FileAuditLog(default_audit_log_path(settings), include_text=settings.audit_log_text)
    # TODO(issue 6): a table in the job database once its migrations own one.
    raise ConfigurationError(
        "VOXSERVE_AUDIT_LOG=database is not implemented yet; use 'file' (JSON lines at "
        "VOXSERVE_AUDIT_LOG_FILE) or 'none'"
    )
