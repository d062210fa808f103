"""Authenticator in each mode, scopes, and the FastAPI dependency behind a real app."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import jwt
import pytest
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from voxserve.api.auth import require_scope
from voxserve.errors import Forbidden, SecurityError, Unauthenticated
from voxserve.security.api_keys import ApiKeyStore
from voxserve.security.authenticator import Authenticator
from voxserve.security.principal import ANONYMOUS, Principal
from voxserve.settings import Settings

SECRET = "k3Y-9f2Qx7Lw0pZr8sTb4nVc6mJh1dGa5eUo"


def token(**extra: object) -> str:
    now = int(time.time())
    return jwt.encode({"sub": "alice", "exp": now + 60, "iat": now, **extra}, SECRET,
                      algorithm="HS256")


def test_none_mode_is_anonymous_with_all_scopes(tmp_path: Path) -> None:
    auth = Authenticator(Settings(data_dir=tmp_path))
    for header in (None, "", "Bearer whatever", "Basic abc"):
        principal = auth.authenticate(header)
        assert principal is ANONYMOUS
    assert principal.subject == "anonymous"
    for scope in ("speech", "projects", "admin"):
        auth.require(principal, scope)


def test_api_key_mode(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, auth="api_key")
    store = ApiKeyStore(tmp_path / "api_keys.json")  # the default location
    _, key = store.create("svc", ["speech"])
    auth = Authenticator(settings)
    principal = auth.authenticate(f"Bearer {key}")
    assert principal.subject == "svc" and principal.auth_method == "api_key"
    assert auth.authenticate(f"bearer   {key}  ").key_id == principal.key_id
    auth.require(principal, "speech")
    with pytest.raises(Forbidden) as forbidden:
        auth.require(principal, "projects")
    assert "projects" in forbidden.value.message
    assert 'error="insufficient_scope"' in forbidden.value.headers["WWW-Authenticate"]

    with pytest.raises(Unauthenticated) as missing:
        auth.authenticate(None)
    assert missing.value.headers["WWW-Authenticate"] == 'Bearer realm="voxserve"'
    for bad in (f"Basic {key}", "Bearer", f"Bearer {key}x", f"Token {key}"):
        with pytest.raises(Unauthenticated):
            auth.authenticate(bad)
    store.revoke("svc")
    with pytest.raises(Unauthenticated) as revoked:
        auth.authenticate(f"Bearer {key}")
    assert revoked.value.message == "invalid or expired token"


def test_jwt_mode(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, auth="jwt", jwt_secret=SECRET)
    auth = Authenticator(settings)
    principal = auth.authenticate(f"Bearer {token(scope='projects')}")
    assert principal == Principal("alice", frozenset({"projects"}), None, "jwt")
    with pytest.raises(Forbidden):
        auth.require(principal, "speech")
    expired = jwt.encode({"sub": "alice", "exp": int(time.time()) - 3600}, SECRET,
                         algorithm="HS256")
    with pytest.raises(Unauthenticated) as caught:
        auth.authenticate(f"Bearer {expired}")
    assert caught.value.message == "invalid or expired token"
    assert 'error="invalid_token"' in caught.value.headers["WWW-Authenticate"]


def test_dependency_in_a_fastapi_app(tmp_path: Path) -> None:
    app = FastAPI()
    app.state.authenticator = Authenticator(
        Settings(data_dir=tmp_path, auth="jwt", jwt_secret=SECRET)
    )

    @app.exception_handler(SecurityError)
    async def _security(_: Request, exc: SecurityError) -> JSONResponse:
        status = 401 if isinstance(exc, Unauthenticated) else 403
        return JSONResponse({"error": {"message": exc.message, "code": exc.code}},
                            status_code=status, headers=exc.headers)

    @app.post("/v1/audio/speech")
    async def speech(
        principal: Annotated[Principal, Depends(require_scope("speech"))], request: Request
    ) -> dict[str, str]:
        assert request.state.principal is principal
        return {"subject": principal.subject}

    client = TestClient(app)
    assert client.post("/v1/audio/speech").status_code == 401
    ok = client.post("/v1/audio/speech",
                     headers={"Authorization": f"Bearer {token(scope='speech')}"})
    assert ok.status_code == 200 and ok.json() == {"subject": "alice"}
    denied = client.post("/v1/audio/speech",
                         headers={"Authorization": f"Bearer {token(scope='projects')}"})
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "insufficient_scope"
    admin = client.post("/v1/audio/speech",
                        headers={"Authorization": f"Bearer {token(scope='admin')}"})
    assert admin.status_code == 200
    bad = client.post("/v1/audio/speech", headers={"Authorization": "Bearer x.y.z"})
    assert bad.status_code == 401
    assert bad.headers["www-authenticate"].startswith("Bearer")
    assert bad.json()["error"]["message"] == "invalid or expired token"
