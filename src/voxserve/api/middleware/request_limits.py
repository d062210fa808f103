"""Header, body-size and JSON-depth limits before any route sees the request.

:class:`RequestLimitsMiddleware` (pure ASGI, so streamed responses pass untouched; it runs
after :class:`~voxserve.api.middleware.authentication.AuthenticationMiddleware`, so with
authentication on nobody without a valid credential gets a body read or scanned):

* More than :data:`MAX_HEADERS` headers, or more than :data:`MAX_HEADER_BYTES` of them → 431.
  (The HTTP protocol layer, ``voxserve.api.http_protocol``, bounds the raw header block
  while it is read; this is the finer, per-header answer in the API's error shape.)
* ``Content-Type``, ``Content-Length``, ``Transfer-Encoding`` or ``Authorization`` given
  twice → 400: the limits and the app must not read different values of one header.
* ``Content-Length`` over the limit → 413 at once, without reading the body (and without
  uvicorn's ``100 Continue``, which it only sends when the app first reads).
* A body without ``Content-Length`` (chunked) is counted as it arrives; once it passes the
  limit nothing more is read (at most one ASGI chunk beyond ``limit`` bytes, i.e. the
  ``limit + 1``-th byte is where reading stops), the app's next ``receive()`` fails, and
  whatever response the app then tries to start is replaced by the 413.
* Bodies FastAPI would parse as JSON (``application/json``, ``*/*+json``, or no
  ``Content-Type`` at all) are read here, each chunk's nesting depth scanned as it arrives
  (:class:`~voxserve.security.json_depth.JsonDepthScanner`: a fixed, small amount of work
  per byte, at most 64 KiB at a time, so the event loop is never held long) → 400
  ``json_too_deep`` as soon as it is deeper than ``max_json_depth``, or
  ``json_too_many_values`` once it holds more than ``max_json_values`` values (millions
  of tiny values take a parser seconds; a few big strings take it nothing), the rest left
  unread, before pydantic parses it; the body is then replayed to the app unchanged.
* Per-route limits: ``overrides`` maps a path prefix to its byte limit (the longest
  matching prefix wins), e.g. ``{"/v1/projects": settings.max_upload_bytes}``.

The refusals are domain errors (:class:`RequestTooLarge`, :class:`JsonTooDeep`,
:class:`JsonTooManyValues`, :class:`HeadersTooLarge`, :class:`InvalidRequest` for a bad
or repeated header) answered through ``voxserve.api.errors``, like every other error.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from voxserve.api.errors import send_error
from voxserve.errors import (
    HeadersTooLarge,
    InvalidRequest,
    JsonTooDeep,
    JsonTooManyValues,
    RequestTooLarge,
)
from voxserve.security.json_depth import JsonDepthScanner, json_depth

__all__ = ["MAX_HEADERS", "MAX_HEADER_BYTES", "RequestLimitsMiddleware", "json_depth"]

#: Headers that must appear at most once (the app reads the first, a proxy may read the last).
SINGLE_HEADERS = (b"content-type", b"content-length", b"transfer-encoding", b"authorization")

#: Bounds on request headers (a JWT of 8 KiB fits comfortably); beyond: 431.
MAX_HEADERS = 100
MAX_HEADER_BYTES = 32 * 1024


class _BodyTooLarge(Exception):
    pass


class RequestLimitsMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int,
        max_json_depth: int,
        overrides: Mapping[str, int] | None = None,
        max_json_values: int = 10_000,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_json_depth = max_json_depth
        self.max_json_values = max_json_values
        # Longest prefix first, so "/v1/projects/x" beats "/v1".
        self.overrides = sorted((overrides or {}).items(), key=lambda kv: -len(kv[0]))

    def limit_for(self, path: str) -> int:
        for prefix, limit in self.overrides:
            if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                return limit
        return self.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope.get("path", ""))
        content_length: int | None = None
        content_type = b""
        headers = scope.get("headers", ())
        header_bytes = sum(len(name) + len(value) + 4 for name, value in headers)
        if len(headers) > MAX_HEADERS or header_bytes > MAX_HEADER_BYTES:
            await send_error(send, HeadersTooLarge(
                f"request headers are too large (at most {MAX_HEADERS} headers and "
                f"{MAX_HEADER_BYTES} bytes)"))
            return
        seen: set[bytes] = set()
        for name, value in headers:
            if name in SINGLE_HEADERS:
                if name in seen:
                    await send_error(send, InvalidRequest(
                        f"the {name.decode()} header is given more than once"), close=True)
                    return
                seen.add(name)
            if name == b"content-length":
                try:
                    content_length = int(value)
                except ValueError:
                    await send_error(send, InvalidRequest("invalid Content-Length"))
                    return
            elif name == b"content-type":
                content_type = bytes(value).split(b";", 1)[0].strip().lower()
        if content_length is not None and content_length > limit:
            await self._too_large(send, limit)
            return
        # What FastAPI parses as JSON: a JSON media type, or no Content-Type at all.
        is_json = (b"content-type" not in seen or content_type == b"application/json"
                   or content_type.endswith(b"+json"))
        if is_json and scope.get("method") in ("POST", "PUT", "PATCH"):
            await self._json(scope, receive, send, limit)
            return
        await self._streamed(scope, receive, send, limit)

    async def _json(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        chunks: list[bytes] = []
        size = 0
        scanner = JsonDepthScanner()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._too_large(send, limit)
                return
            if scanner.feed(chunk) > self.max_json_depth:
                more = bool(message.get("more_body", False))
                await send_error(send, JsonTooDeep(
                    f"the JSON body nests deeper than {self.max_json_depth} levels"), close=more)
                return
            if scanner.values > self.max_json_values:
                more = bool(message.get("more_body", False))
                await send_error(send, JsonTooManyValues(
                    f"the JSON body holds more than {self.max_json_values} values"), close=more)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _streamed(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        size = 0
        exceeded = False
        started = False

        async def counting_receive() -> Message:
            nonlocal size, exceeded
            if exceeded:
                raise _BodyTooLarge()
            message = await receive()
            if message["type"] == "http.request":
                size += len(message.get("body", b""))
                if size > limit:
                    exceeded = True
                    raise _BodyTooLarge()
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:
                return  # the 413 below replaces whatever the app answers
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except _BodyTooLarge:
            pass
        except Exception:
            if not exceeded:
                raise
        if exceeded and not started:
            await self._too_large(send, limit)

    @staticmethod
    async def _too_large(send: Send, limit: int) -> None:
        # close: the unread rest of the body must not be taken for the next request
        await send_error(send, RequestTooLarge(
            f"the request body is larger than the limit of {limit} bytes"), close=True)
