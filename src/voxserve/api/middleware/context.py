"""Request context middleware: request id, one JSON access line per request, HTTP metrics,
in-flight count.

Pure ASGI (no BaseHTTPMiddleware) so streamed responses pass through untouched; the access
line is written when the last body byte has been sent, with what the route recorded.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from contextvars import ContextVar
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from voxserve import metrics
from voxserve.logs import request_id_var
from voxserve.service.lifecycle import ServiceState

access_logger = logging.getLogger("voxserve.access")

_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


@dataclass
class AccessRecord:
    """What a route adds to its request's access line (never the request text)."""

    characters: int | None = None
    audio_s: float | None = None
    engine: str | None = None
    voice: str | None = None
    segments: int | None = None


#: The access record of the request being served; routes fill it in.
access_record_var: ContextVar[AccessRecord | None] = ContextVar("voxserve_access", default=None)


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, state: ServiceState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = request_id_of(scope)
        record = AccessRecord()
        id_token = request_id_var.set(request_id)
        record_token = access_record_var.set(record)
        status = 500
        self.state.request_started()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"], (b"x-request-id", request_id.encode())
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self.state.request_finished()
            duration_s = time.perf_counter() - started
            route = _route_label(scope)
            metrics.HTTP_REQUESTS.labels(scope["method"], route, str(status)).inc()
            metrics.HTTP_REQUEST_DURATION.labels(scope["method"], route).observe(duration_s)
            if route != "/metrics":
                fields = {k: v for k, v in vars(record).items() if v is not None}
                access_logger.info(
                    "%s %s %s", scope["method"], scope["path"], status,
                    extra={"method": scope["method"], "path": scope["path"], "status": status,
                           "duration_ms": round(duration_s * 1000, 2), **fields},
                )
            request_id_var.reset(id_token)
            access_record_var.reset(record_token)


def request_id_of(scope: Scope) -> str:
    """The client's valid ``X-Request-Id``, else a new one."""
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            candidate = bytes(value).decode("latin-1")
            if _VALID_REQUEST_ID.match(candidate):
                return candidate
    return uuid.uuid4().hex


def _route_label(scope: Scope) -> str:
    """The route template (bounded cardinality), not the raw path."""
    path: object = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else "unmatched"
