"""The wiring the app will use, on a small app: middleware order, dependencies, a streamed
route holding a concurrency slot, and error statuses with their headers."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.testclient import TestClient

from voxserve.api.auth import require_scope
from voxserve.api.middleware.audit import STATE_TEXT, AuditMiddleware
from voxserve.api.middleware.rate_limit import (
    RateLimitMiddleware,
    add_rate_limit_headers,
    client_identity,
    count_request,
    hold_stream_slot,
)
from voxserve.api.middleware.request_limits import RequestLimitsMiddleware
from voxserve.errors import Forbidden, RateLimited, SecurityError, Unauthenticated
from voxserve.security.api_keys import ApiKeyStore
from voxserve.security.audit import FileAuditLog
from voxserve.security.authenticator import Authenticator
from voxserve.security.limits import RateLimiter
from voxserve.settings import Settings

STATUS = {Unauthenticated: 401, Forbidden: 403, RateLimited: 429}


def build(tmp_path: Path) -> tuple[FastAPI, RateLimiter, list[str]]:
    settings = Settings(data_dir=tmp_path, auth="api_key", rate_limit_requests_per_minute=5,
                        rate_limit_chars_per_minute=1000, rate_limit_concurrent_streams=1)
    app = FastAPI()
    app.state.authenticator = Authenticator(settings)
    limiter = RateLimiter.from_settings(settings)
    app.state.rate_limiter = limiter
    events: list[str] = []

    @app.exception_handler(SecurityError)
    async def _security(_: Request, exc: SecurityError) -> JSONResponse:
        return JSONResponse({"error": {"message": exc.message, "code": exc.code}},
                            status_code=STATUS[type(exc)], headers=exc.headers)

    router = APIRouter(dependencies=[Depends(require_scope("speech")), Depends(count_request)])

    @router.post("/v1/audio/speech")
    async def speech(request: Request, payload: dict[str, str]) -> StreamingResponse:
        text = payload["input"]
        setattr(request.state, STATE_TEXT, text)
        identity = client_identity(request)
        add_rate_limit_headers(request, await limiter.check_characters(identity, len(text)))
        hold_stream_slot(request, await limiter.acquire_stream(identity))

        async def body() -> AsyncIterator[bytes]:
            for word in text.split():
                events.append(f"in_use={await limiter.in_use(identity)}")
                yield word.encode()
                await asyncio.sleep(0)

        return StreamingResponse(body(), media_type="audio/mpeg")

    app.include_router(router)
    audit = FileAuditLog(tmp_path / "audit.jsonl")
    # Outermost last: RequestLimits (first added) runs innermost of the three.
    app.add_middleware(RequestLimitsMiddleware, max_body_bytes=2048, max_json_depth=8)
    app.add_middleware(RateLimitMiddleware)
    app.add_middleware(AuditMiddleware, audit_log=audit)
    return app, limiter, events


def test_full_wiring(tmp_path: Path) -> None:
    record, key = ApiKeyStore(tmp_path / "api_keys.json").create("svc", ["speech"])
    _, other = ApiKeyStore(tmp_path / "api_keys.json").create("ops", ["projects"])
    app, limiter, events = build(tmp_path)
    client = TestClient(app)
    auth = {"Authorization": f"Bearer {key}"}

    assert client.post("/v1/audio/speech", json={"input": "hi"}).status_code == 401
    forbidden = client.post("/v1/audio/speech", json={"input": "hi"},
                            headers={"Authorization": f"Bearer {other}"})
    assert forbidden.status_code == 403

    ok = client.post("/v1/audio/speech", json={"input": "one two three"}, headers=auth)
    assert ok.status_code == 200 and ok.content == b"onetwothree"
    assert ok.headers["x-ratelimit-limit"] == "5"
    assert ok.headers["x-ratelimit-remaining"] == "4"
    assert ok.headers["x-ratelimit-remaining-characters"] == str(1000 - 13)
    assert ok.headers["x-ratelimit-remaining-streams"] == "0"
    assert events == ["in_use=1"] * 3  # the slot is held while streaming...
    assert asyncio.run(limiter.in_use(f"key:{record.id}")) == 0  # ...and released after

    too_big = client.post("/v1/audio/speech", content=b'{"input": "' + b"x" * 4000 + b'"}',
                          headers={**auth, "content-type": "application/json"})
    assert too_big.status_code == 413
    for _ in range(4):
        assert client.post("/v1/audio/speech", json={"input": "a"}, headers=auth).is_success
    refused = client.post("/v1/audio/speech", json={"input": "a"}, headers=auth)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limit_exceeded"
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.headers["x-ratelimit-remaining"] == "0"

    audit = (tmp_path / "audit.jsonl").read_text().splitlines()
    # 5 served, the 429 and the 403 (authenticated); not the 401 nor the 413 (before auth).
    assert [json.loads(line)["status"] for line in audit] == [403, 200, 200, 200, 200, 200, 429]
    assert "one two three" not in "".join(audit)


def _streaming_app(
    limiter: RateLimiter, body: Callable[[], AsyncIterator[bytes]]
) -> RateLimitMiddleware:
    """``GET /stream``: ``body`` streamed while holding one of ``ip:x``'s stream slots."""
    app = FastAPI()

    @app.get("/stream")
    async def stream(request: Request) -> StreamingResponse:
        hold_stream_slot(request, await limiter.acquire_stream("ip:x"))
        return StreamingResponse(body())

    return RateLimitMiddleware(app)


def test_slot_is_released_when_the_stream_fails(tmp_path: Path) -> None:
    limiter = RateLimiter(requests_per_minute=0, chars_per_minute=0, concurrent_streams=1)

    async def body() -> AsyncIterator[bytes]:
        yield b"first"
        raise RuntimeError("engine died mid-stream")

    client = TestClient(_streaming_app(limiter, body), raise_server_exceptions=False)
    for _ in range(3):  # with a leaked slot the second call would be refused
        with contextlib.suppress(RuntimeError):
            client.get("/stream")
        assert asyncio.run(limiter.in_use("ip:x")) == 0


def test_slot_is_free_before_the_last_bytes_leave(tmp_path: Path) -> None:
    """A client that starts its next stream the moment one ends (the benchmark's clients,
    a player fetching sentence after sentence) must find its slot free: it is released
    before the final body message is sent, not after the app has unwound."""
    limiter = RateLimiter(requests_per_minute=0, chars_per_minute=0, concurrent_streams=1)

    async def body() -> AsyncIterator[bytes]:
        yield b"first"
        yield b"last"

    app = _streaming_app(limiter, body)
    seen: list[tuple[bool, int]] = []

    async def run() -> None:
        async def receive() -> dict[str, object]:
            await asyncio.sleep(3600)  # the client never disconnects
            return {"type": "http.disconnect"}

        async def send(message: dict[str, object]) -> None:
            if message["type"] == "http.response.body":
                seen.append((bool(message.get("more_body")), await limiter.in_use("ip:x")))

        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                 "method": "GET", "path": "/stream", "raw_path": b"/stream",
                 "query_string": b"", "headers": [], "client": ("127.0.0.1", 1),
                 "server": ("testserver", 80), "scheme": "http", "root_path": ""}
        await app(scope, receive, send)  # type: ignore[arg-type]

    asyncio.run(run())
    assert seen[0] == (True, 1)  # held while the stream runs
    assert seen[-1] == (False, 0)  # free when the client can see the end
