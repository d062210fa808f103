"""uvicorn's httptools protocol with the two bounds it lacks: the size of a request's head
(request line and headers) and the time a client may take to send it.

uvicorn buffers a request's headers without a limit (llhttp hands each header over only
once it is complete, however long) and waits for them without a deadline: a client can
make the server hold hundreds of megabytes per connection, or hold a connection forever by
sending a byte now and then (slowloris). :class:`BoundedHttpProtocol` counts the bytes that
arrive while a request's head is incomplete and answers ``431`` and closes once they pass
``max_head_bytes`` (memory stays within that plus one read), and answers ``408`` and closes
when the head is not complete ``head_timeout_s`` after the connection opened or the
previous response ended (keep-alive). Both answers use the API's error shape.

Behind a reverse proxy these bounds are the proxy's job as well (nginx:
``large_client_header_buffers``, ``client_header_timeout``; see ``docs/deploy.md``).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

#: Request line plus header block; the API's own check (431 per header, 32 KiB in all) is
#: finer and runs after this one.
MAX_HEAD_BYTES = 48 * 1024


def _error_response(status: int, reason: str, code: str, message: str) -> bytes:
    body = json.dumps({"error": {"message": message, "type": "invalid_request_error",
                                 "param": None, "code": code}}).encode()
    return (f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\nx-content-type-options: nosniff\r\n"
            "connection: close\r\n\r\n").encode() + body


class BoundedHttpProtocol(HttpToolsProtocol):
    """Set the bounds with :func:`bounded_protocol`, which makes a subclass."""

    max_head_bytes = MAX_HEAD_BYTES
    head_timeout_s = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes = 0
        self._in_head = True
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._in_head and self._head_bytes > self.max_head_bytes:
            self._refuse(431, "Request Header Fields Too Large", "headers_too_large",
                         f"the request line and headers are larger than "
                         f"{self.max_head_bytes} bytes")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if not self._in_head:  # a pipelined request: its head starts in this read
            self._in_head = True
            self._head_bytes = 0

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_bytes = 0
        self._stop_head_timer()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and not self.pipeline:
            self._await_head()  # the next request on this connection, if any

    def _await_head(self) -> None:
        self._in_head = True
        self._head_bytes = 0
        self._stop_head_timer()
        self._head_timer = self.loop.call_later(self.head_timeout_s, self._head_timed_out)

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if not self._in_head or self.transport.is_closing():
            return
        if self._head_bytes == 0 and self.cycle is not None:
            self.transport.close()  # an idle keep-alive connection: just close it
            return
        self._refuse(408, "Request Timeout", "request_timeout",
                     f"the request headers did not arrive within {self.head_timeout_s:g} s")

    def _refuse(self, status: int, reason: str, code: str, message: str) -> None:
        self._stop_head_timer()
        if self.transport.is_closing():
            return
        self.logger.warning("%s: %s", status, message)
        self.transport.write(_error_response(status, reason, code, message))
        self.transport.close()


def bounded_protocol(*, max_head_bytes: int, head_timeout_s: float) -> type[HttpToolsProtocol]:
    """A :class:`BoundedHttpProtocol` with these bounds (uvicorn takes a class)."""
    return type("BoundedHttpProtocol", (BoundedHttpProtocol,),
                {"max_head_bytes": max_head_bytes, "head_timeout_s": head_timeout_s})
