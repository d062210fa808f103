"""Writes the audit record of each authenticated request once its response has ended
(``voxserve.security.audit`` builds and stores the records)."""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from voxserve.api.auth import STATE_PRINCIPAL
from voxserve.logs import request_id_var
from voxserve.security.audit import AuditLog, audit_event
from voxserve.security.principal import Principal

#: Keys a route may put on ``request.state`` for its audit record.
STATE_TEXT = "audit_text"  # the request text (hashed; kept only with audit_log_text)
STATE_CHARACTERS = "audit_characters"  # when there is no single text (documents)


class AuditMiddleware:
    """Writes one audit record per request that went through ``require_scope`` (so health,
    metrics and unauthenticated refusals are not audited), once its response has ended."""

    def __init__(self, app: ASGIApp, audit_log: AuditLog, *, include_text: bool = False) -> None:
        self.app = app
        self.audit_log = audit_log
        self.include_text = include_text

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            principal = state.get(STATE_PRINCIPAL)
            if isinstance(principal, Principal):
                client = scope.get("client")
                route = getattr(scope.get("route"), "path", None)
                text = state.get(STATE_TEXT)
                self.audit_log.record(audit_event(
                    principal=principal, method=scope.get("method", ""),
                    route=route if isinstance(route, str) else scope.get("path", ""),
                    status=status, request_id=request_id_var.get(),
                    text=text if isinstance(text, str) else None,
                    characters=state.get(STATE_CHARACTERS),
                    client=client[0] if client else None, include_text=self.include_text,
                ))
