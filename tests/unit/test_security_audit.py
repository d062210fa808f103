"""Audit records: hash and length of the text, never the text unless configured."""

from __future__ import annotations

import hashlib
import json
import stat
from pathlib import Path
from typing import Annotated, Any

import pytest
from fastapi import Depends, FastAPI, Request
from fastapi.testclient import TestClient

from voxserve.api.auth import require_scope
from voxserve.api.middleware.audit import STATE_TEXT, AuditMiddleware
from voxserve.errors import ConfigurationError
from voxserve.security.audit import FileAuditLog, NullAuditLog, audit_event, create_audit_log
from voxserve.security.authenticator import Authenticator
from voxserve.security.principal import ANONYMOUS, Principal
from voxserve.settings import Settings

TEXT = "The secret plan is to read this aloud."
DIGEST = hashlib.sha256(TEXT.encode()).hexdigest()
PRINCIPAL = Principal("svc", frozenset({"speech"}), "0123456789ab", "api_key")


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_file_audit_log_hashes_the_text(tmp_path: Path) -> None:
    log = FileAuditLog(tmp_path / "audit" / "audit.jsonl")
    event = audit_event(principal=PRINCIPAL, method="POST", route="/v1/audio/speech",
                        status=200, request_id="r1", text=TEXT, client="10.0.0.1")
    log.record(event)
    log.record({**event, "text": TEXT})  # even if a caller adds it, it is not written
    log.close()
    records = lines(tmp_path / "audit" / "audit.jsonl")
    assert len(records) == 2
    first = records[0]
    assert first["text_sha256"] == DIGEST and first["characters"] == len(TEXT)
    assert {"ts", "request_id", "subject", "key_id", "auth_method", "method", "route",
            "status", "characters", "text_sha256", "client"} <= set(first)
    assert first["subject"] == "svc" and first["key_id"] == "0123456789ab"
    assert "text" not in first and "text" not in records[1]
    assert TEXT not in (tmp_path / "audit" / "audit.jsonl").read_text()
    assert stat.S_IMODE((tmp_path / "audit" / "audit.jsonl").stat().st_mode) == 0o600


def test_text_is_kept_only_when_configured(tmp_path: Path) -> None:
    log = create_audit_log(Settings(data_dir=tmp_path, audit_log_text=True))
    log.record(audit_event(principal=ANONYMOUS, method="POST", route="/r", status=200,
                           text=TEXT, include_text=True))
    log.close()
    (record,) = lines(tmp_path / "audit.jsonl")
    assert record["text"] == TEXT and record["text_sha256"] == DIGEST


def test_factory(tmp_path: Path) -> None:
    assert isinstance(create_audit_log(Settings(data_dir=tmp_path, audit_log="none")),
                      NullAuditLog)
    with pytest.raises(ConfigurationError, match="not implemented"):
        create_audit_log(Settings(data_dir=tmp_path, audit_log="database"))


def test_middleware_records_authenticated_requests_only(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = FileAuditLog(path)
    api = FastAPI()
    api.state.authenticator = Authenticator(Settings(data_dir=tmp_path))

    @api.post("/v1/audio/speech")
    async def speech(
        request: Request, _: Annotated[Principal, Depends(require_scope("speech"))]
    ) -> dict[str, str]:
        setattr(request.state, STATE_TEXT, TEXT)
        return {"ok": "yes"}

    @api.get("/healthz")
    async def health() -> dict[str, str]:
        return {"ok": "yes"}

    client = TestClient(AuditMiddleware(api, log))
    assert client.post("/v1/audio/speech").status_code == 200
    assert client.get("/healthz").status_code == 200
    log.close()
    (record,) = lines(path)
    assert record["route"] == "/v1/audio/speech" and record["status"] == 200
    assert record["subject"] == "anonymous" and record["auth_method"] == "none"
    assert record["text_sha256"] == DIGEST and "text" not in record
