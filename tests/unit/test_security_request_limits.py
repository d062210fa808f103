"""Request-size and JSON-depth limits (raw ASGI, so what is read can be counted)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from starlette.types import Message, Receive, Scope, Send

from voxserve.api.middleware.request_limits import RequestLimitsMiddleware, json_depth

CHUNK = 1000


class Echo:
    """An app that reads the whole body and answers its length."""

    def __init__(self) -> None:
        self.called = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.called = True
        size = 0
        while True:
            message = await receive()
            size += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = json.dumps({"size": size}).encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})


def run(app: Any, *, body_chunks: list[bytes], headers: dict[str, str] | None = None,
        path: str = "/v1/audio/speech") -> tuple[int, dict[str, Any], int]:
    """(status, JSON body, bytes the server handed to the app)."""
    pending = list(body_chunks)
    consumed = 0
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal consumed
        if pending:
            chunk = pending.pop(0)
            consumed += len(chunk)
            return {"type": "http.request", "body": chunk, "more_body": bool(pending)}
        await asyncio.sleep(0)
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": path,
             "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]}
    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert sum(m["type"] == "http.response.start" for m in sent) == 1
    return start["status"], json.loads(body), consumed


def chunks(total: int) -> list[bytes]:
    return [b"x" * CHUNK for _ in range(total // CHUNK)]


def test_content_length_over_the_limit_is_refused_unread() -> None:
    inner = Echo()
    app = RequestLimitsMiddleware(inner, max_body_bytes=4096, max_json_depth=8)
    status, body, consumed = run(app, body_chunks=chunks(100_000),
                                 headers={"content-length": "100000"})
    assert status == 413
    assert body["error"]["code"] == "request_too_large"
    assert body["error"]["type"] == "invalid_request_error"
    assert consumed == 0 and not inner.called


def test_streamed_body_over_the_limit_stops_reading() -> None:
    inner = Echo()
    app = RequestLimitsMiddleware(inner, max_body_bytes=4096, max_json_depth=8)
    status, body, consumed = run(app, body_chunks=chunks(100_000))  # chunked: no length
    assert status == 413 and body["error"]["code"] == "request_too_large"
    assert consumed <= 4096 + CHUNK  # stopped at the first chunk past the limit
    status, body, _ = run(app, body_chunks=chunks(4000))
    assert (status, body) == (200, {"size": 4000})


def test_streamed_json_over_the_limit_stops_reading() -> None:
    app = RequestLimitsMiddleware(Echo(), max_body_bytes=4096, max_json_depth=8)
    status, _, consumed = run(app, body_chunks=chunks(100_000),
                              headers={"content-type": "application/json"})
    assert status == 413 and consumed <= 4096 + CHUNK


def test_per_route_overrides() -> None:
    app = RequestLimitsMiddleware(Echo(), max_body_bytes=2048, max_json_depth=8,
                                  overrides={"/v1/projects": 50_000})
    upload = {"content-length": "30000", "content-type": "multipart/form-data; boundary=x"}
    assert run(app, body_chunks=chunks(30_000), headers=upload, path="/v1/projects")[0] == 200
    assert run(app, body_chunks=chunks(30_000), headers=upload,
               path="/v1/projects/abc/cancel")[0] == 200
    assert run(app, body_chunks=chunks(30_000), headers=upload, path="/v1/projectsX")[0] == 413
    assert run(app, body_chunks=chunks(30_000), headers=upload, path="/v1/audio/speech")[0] == 413
    assert app.limit_for("/v1/projects") == 50_000 and app.limit_for("/") == 2048


def test_a_form_upload_over_the_limit_is_413_not_the_apps_400() -> None:
    """FastAPI turns a failing body read into 400; the middleware's 413 replaces it."""
    api = FastAPI()

    @api.post("/v1/projects")
    async def upload(request: Request) -> dict[str, int]:
        form = await request.form()
        return {"fields": len(form)}

    client = TestClient(RequestLimitsMiddleware(api, max_body_bytes=1024, max_json_depth=8))

    def body() -> Any:  # a generator: sent chunked, without Content-Length
        for _ in range(50):
            part = b'--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n'
            yield part + b"y" * 500 + b"\r\n"
        yield b"--x--\r\n"

    response = client.post("/v1/projects", content=body(),
                           headers={"content-type": "multipart/form-data; boundary=x"})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"
    small = client.post("/v1/projects", data={"a": "b"})
    assert small.status_code == 200 and small.json() == {"fields": 1}


def test_deep_json_is_refused_before_the_app() -> None:
    api = FastAPI()
    seen: list[Any] = []

    @api.post("/v1/audio/speech")
    async def speech(payload: dict[str, Any]) -> dict[str, str]:
        seen.append(payload)
        return {"ok": "yes"}

    client = TestClient(RequestLimitsMiddleware(api, max_body_bytes=100_000, max_json_depth=8))
    deep = '{"input": ' + "[" * 50 + "]" * 50 + "}"
    response = client.post("/v1/audio/speech", content=deep,
                           headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "json_too_deep"
    assert seen == []
    # Brackets inside strings (with escaped quotes) do not count.
    text = json.dumps({"input": "[[[[[[[[[[[[ \" {{{{{{{{{{{{{{ \\\" ]]"})
    ok = client.post("/v1/audio/speech", content=text,
                     headers={"content-type": "application/json; charset=utf-8"})
    assert ok.status_code == 200 and seen == [json.loads(text)]


@pytest.mark.parametrize(("body", "depth"), [
    (b"", 0), (b"1", 0), (b'"[["', 0), (b"[]", 1), (b'{"a": [1, {"b": []}]}', 4),
    (b'["\\"[", ["]"]]', 2), (b'["\\\\", [[]]]', 3), (b'{"a": "unterminated [[[', 1),
    (b"[" * 1000, 1000),
])
def test_json_depth(body: bytes, depth: int) -> None:
    assert json_depth(body) == depth


@pytest.mark.parametrize(
    "headers",
    [
        {f"x-header-{n}": "1" for n in range(101)},  # too many
        {"x-big": "a" * (33 * 1024)},  # too large
    ],
)
def test_oversized_headers_are_431(headers: dict[str, str]) -> None:
    inner = Echo()
    app = RequestLimitsMiddleware(inner, max_body_bytes=4096, max_json_depth=8)
    status, body, consumed = run(app, body_chunks=[b"{}"], headers=headers)
    assert status == 431 and body["error"]["code"] == "headers_too_large"
    assert consumed == 0 and not inner.called


def test_a_large_jwt_header_is_fine() -> None:
    inner = Echo()
    app = RequestLimitsMiddleware(inner, max_body_bytes=4096, max_json_depth=8)
    status, _, _ = run(app, body_chunks=[b"{}"],
                       headers={"authorization": "Bearer " + "a" * 8192})
    assert status != 431 and inner.called


def responses(app: Any, headers: dict[str, str], body: bytes = b"{}") -> list[Message]:
    """The messages ``app`` sends for one request with ``body`` in one chunk."""
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/v1/audio/speech",
             "headers": [(k.encode(), v.encode()) for k, v in headers.items()]}
    asyncio.run(app(scope, receive, send))
    return sent


@pytest.mark.parametrize(("headers", "status", "error"), [
    ({"content-length": "100000"}, 413,
     {"message": "the request body is larger than the limit of 4096 bytes",
      "type": "invalid_request_error", "param": None, "code": "request_too_large"}),
    ({"content-length": "lots"}, 400,
     {"message": "invalid Content-Length", "type": "invalid_request_error", "param": None,
      "code": "invalid_request"}),
    ({"x-big": "a" * (33 * 1024)}, 431,
     {"message": "request headers are too large (at most 100 headers and 32768 bytes)",
      "type": "invalid_request_error", "param": None, "code": "headers_too_large"}),
    ({"content-type": "application/json"}, 400,
     {"message": "the JSON body nests deeper than 8 levels", "type": "invalid_request_error",
      "param": None, "code": "json_too_deep"}),
])
def test_refusals_are_the_openai_error_body(headers: dict[str, str], status: int,
                                            error: dict[str, Any]) -> None:
    inner = Echo()
    app = RequestLimitsMiddleware(inner, max_body_bytes=4096, max_json_depth=8)
    start, body = responses(app, headers, b"[" * 20 + b"]" * 20)
    assert start["status"] == status and not inner.called
    sent_headers = dict(start["headers"])
    assert sent_headers[b"content-type"] == b"application/json"
    assert int(sent_headers[b"content-length"]) == len(body["body"])
    # Only a 413 leaves body bytes unread: then the connection must not be reused.
    assert sent_headers.get(b"connection") == (b"close" if status == 413 else None)
    assert json.loads(body["body"]) == {"error": error}


# --- issue 23: bounded, incremental JSON scanning; one value per header -----------------


def test_deep_json_stops_reading_at_the_chunk_that_passes_the_limit() -> None:
    """The depth is scanned as chunks arrive: a hostile body is refused after its first
    chunk, the rest left unread (before, the whole body was read, then scanned)."""
    inner = Echo()
    app = RequestLimitsMiddleware(inner, max_body_bytes=20 * 1024 * 1024, max_json_depth=8)
    chunk = b"[" * 64 * 1024
    status, body, consumed = run(app, body_chunks=[chunk] * 300,
                                 headers={"content-type": "application/json"})
    assert status == 400 and body["error"]["code"] == "json_too_deep"
    assert consumed == len(chunk) and not inner.called


def test_a_body_without_content_type_is_scanned_like_json() -> None:
    """FastAPI parses a body without Content-Type as JSON, so the depth limit applies."""
    inner = Echo()
    app = RequestLimitsMiddleware(inner, max_body_bytes=4096, max_json_depth=8)
    status, body, _ = run(app, body_chunks=[b"[" * 20 + b"]" * 20])
    assert status == 400 and body["error"]["code"] == "json_too_deep" and not inner.called
    status, body, _ = run(app, body_chunks=[b"[" * 20 + b"]" * 20],
                          headers={"content-type": "multipart/form-data; boundary=x"})
    assert status == 200  # not JSON: the app (and its form parser) decides


@pytest.mark.parametrize("name", ["content-type", "content-length", "authorization",
                                  "transfer-encoding"])
def test_a_header_given_twice_is_refused(name: str) -> None:
    inner = Echo()
    app = RequestLimitsMiddleware(inner, max_body_bytes=4096, max_json_depth=8)
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    value = {"content-type": b"application/json", "content-length": b"2"}.get(name, b"x")
    scope = {"type": "http", "method": "POST", "path": "/v1/audio/speech",
             "headers": [(name.encode(), value), (name.encode(), b"text/plain")]}
    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 400 and not inner.called
    error = json.loads(sent[1]["body"])["error"]
    assert error["message"] == f"the {name} header is given more than once"
    assert dict(sent[0]["headers"])[b"connection"] == b"close"


def test_the_scanner_works_in_bounded_slices(monkeypatch: pytest.MonkeyPatch) -> None:
    """However large a chunk, at most SLICE_BYTES are scanned (and allocated for) at once."""
    from voxserve.security import json_depth as module

    sizes: list[int] = []
    original = module.JsonDepthScanner._scan

    def spy(self: module.JsonDepthScanner, chars: Any) -> None:
        sizes.append(len(chars))
        original(self, chars)

    monkeypatch.setattr(module.JsonDepthScanner, "_scan", spy)
    body = b'{"text": "' + b"a\\\"[" * 500_000 + b'"}'
    assert module.json_depth(body) == 1
    assert max(sizes) == module.SLICE_BYTES and sum(sizes) == len(body)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='ab"\\[]{}\u00e9 '),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(alphabet='k"\\[{', max_size=4), children, max_size=3),
    max_leaves=30)


def _reference_depth(value: object) -> int:
    if isinstance(value, list):
        return 1 + max((_reference_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_reference_depth(v) for v in value.values()), default=0)
    return 0


@given(value=_JSON, cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=6))
def test_incremental_depth_equals_the_parsed_depth(value: object, cuts: list[int]) -> None:
    """Fed in arbitrary pieces (escapes and strings cut anywhere), the scanner agrees with
    the depth of the parsed value."""
    from voxserve.security.json_depth import JsonDepthScanner

    text = json.dumps(value, ensure_ascii=False).encode()
    scanner = JsonDepthScanner()
    previous = 0
    for cut in [*sorted(c % (len(text) + 1) for c in cuts), len(text)]:
        scanner.feed(text[previous:cut])
        previous = cut
    assert scanner.max_depth == _reference_depth(value) == json_depth(text)


def test_millions_of_tiny_values_are_refused_early() -> None:
    """``["", "", …]`` costs pydantic seconds per 20 MB (with the GIL held): the value count
    is bounded like the depth, and reading stops at the chunk that passes it."""
    inner = Echo()
    app = RequestLimitsMiddleware(inner, max_body_bytes=20 * 1024 * 1024, max_json_depth=8,
                                  max_json_values=10_000)
    chunk = b'"",' * 20_000
    status, body, consumed = run(app, body_chunks=[b'{"text": ['] + [chunk] * 100,
                                 headers={"content-type": "application/json"})
    assert status == 400 and body["error"]["code"] == "json_too_many_values"
    assert consumed == len(b'{"text": [') + len(chunk) and not inner.called
    # a large text is one value, however long
    big = json.dumps({"input": "a, b: [c] {d}" * 100_000}).encode()
    status, body, _ = run(app, body_chunks=[big], headers={"content-type": "application/json"})
    assert (status, body) == (200, {"size": len(big)})
