"""Header, body-size and JSON-depth limits before any route sees the request.

:class:`RequestLimitsMiddleware` (pure ASGI, so streamed responses pass untouched):

* More than :data:`MAX_HEADERS` headers, or more than :data:`MAX_HEADER_BYTES` of them → 431.
* ``Content-Length`` over the limit → 413 at once, without reading the body (and without
  uvicorn's ``100 Continue``, which it only sends when the app first reads).
* A body without ``Content-Length`` (chunked) is counted as it arrives; once it passes the
  limit nothing more is read (at most one ASGI chunk beyond ``limit`` bytes, i.e. the
  ``limit + 1``-th byte is where reading stops), the app's next ``receive()`` fails, and
  whatever response the app then tries to start is replaced by the 413.
* JSON bodies (``application/json``, ``*/*+json``) are read whole (they are under the limit),
  their nesting depth checked with a fast scan (strings and escapes skipped; numpy does the
  bracket arithmetic) → 400 ``json_too_deep`` when deeper than ``max_json_depth``, before
  pydantic parses them; the body is then replayed to the app unchanged.
* Per-route limits: ``overrides`` maps a path prefix to its byte limit (the longest
  matching prefix wins), e.g. ``{"/v1/projects": settings.max_upload_bytes}``.

The refusals are domain errors (:class:`RequestTooLarge`, :class:`JsonTooDeep`,
:class:`HeadersTooLarge`, :class:`InvalidRequest` for a bad ``Content-Length``) answered
through ``voxserve.api.errors``, like every other error.

:func:`json_depth` is a pure function, but it lives here, next to its only caller: it is a
guard on the raw HTTP body before pydantic parses it (its answer for invalid JSON only has to
be good enough for that), not a security rule anything else applies.

A bound on headers while they are parsed is the HTTP server's (or a proxy's) job: see
``voxserve.server``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from voxserve.api.errors import send_error
from voxserve.errors import HeadersTooLarge, InvalidRequest, JsonTooDeep, RequestTooLarge

_JSON_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"?', re.DOTALL)
_OPEN = np.zeros(256, dtype=np.int8)
_OPEN[[ord("["), ord("{")]] = 1
_OPEN[[ord("]"), ord("}")]] = -1


def json_depth(body: bytes) -> int:
    """The deepest ``[``/``{`` nesting of ``body``, brackets inside strings ignored.

    Linear time (a possessive regex drops the strings; an unterminated string runs to the
    end); invalid JSON gets some number, and pydantic refuses it afterwards.
    """
    stripped = _JSON_STRING.sub(b"", body)
    if not stripped:
        return 0
    steps = _OPEN[np.frombuffer(stripped, dtype=np.uint8)]
    if not steps.any():
        return 0
    return int(np.cumsum(steps, dtype=np.int64).max(initial=0))


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
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_json_depth = max_json_depth
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
        for name, value in headers:
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
        is_json = content_type == b"application/json" or content_type.endswith(b"+json")
        if is_json and scope.get("method") in ("POST", "PUT", "PATCH"):
            await self._json(scope, receive, send, limit)
            return
        await self._streamed(scope, receive, send, limit)

    async def _json(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._too_large(send, limit)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if json_depth(body) > self.max_json_depth:
            await send_error(send, JsonTooDeep(
                f"the JSON body nests deeper than {self.max_json_depth} levels"))
            return
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
