"""Authentication from the headers alone, before any byte of the body is read.

With authentication on, a request to the API (``/v1/…``) without a valid credential is
answered 401 here, so the body limits and the JSON depth scan behind this middleware (and
FastAPI, which reads a route's body before running its dependencies) never spend work on
it. The principal found is left on the request (``request.state.principal``) for
:func:`voxserve.api.auth.require_scope`, which checks the route's scope, and for the audit
and rate-limit middleware.

The operations endpoints (``/metrics``, ``/docs``, ``/redoc``, ``/openapi.json``) need an
``admin`` credential when ``operations_access`` says so (``auto``: whenever authentication
is on). Probes (``/healthz``, ``/readyz``) and the web UI's files stay open: they hold no
data, and the page asks for a key when the API answers 401.
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from voxserve.api.auth import STATE_PRINCIPAL
from voxserve.api.errors import send_error
from voxserve.errors import SecurityError
from voxserve.security.authenticator import Authenticator
from voxserve.security.principal import SCOPE_ADMIN, principal_var
from voxserve.settings import Settings

#: Paths of the operations endpoints (and the docs pages' own files under ``/docs/``).
OPERATIONS_PATHS = ("/metrics", "/docs", "/redoc", "/openapi.json")


def operations_protected(settings: Settings) -> bool:
    """Whether the operations endpoints need an ``admin`` credential."""
    if settings.operations_access == "auto":
        return settings.auth != "none"
    return settings.operations_access == "admin"


def _is_operations(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in OPERATIONS_PATHS)


class AuthenticationMiddleware:
    def __init__(
        self, app: ASGIApp, authenticator: Authenticator, *, protect_operations: bool
    ) -> None:
        self.app = app
        self.authenticator = authenticator
        self.protect_operations = protect_operations

    def required_scope(self, path: str) -> str | None:
        """``""``: authenticate (the route checks its scope); a scope: authenticate and
        require it here; ``None``: open."""
        if path == "/v1" or path.startswith("/v1/"):
            return ""
        if self.protect_operations and _is_operations(path):
            return SCOPE_ADMIN
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.authenticator.mode == "none":
            await self.app(scope, receive, send)
            return
        needed = self.required_scope(scope.get("path", ""))
        if needed is None:
            await self.app(scope, receive, send)
            return
        header: str | None = None
        has_body = False
        for name, value in scope.get("headers", ()):
            if name == b"authorization" and header is None:
                header = bytes(value).decode("latin-1")
            elif name in (b"content-length", b"transfer-encoding"):
                has_body = has_body or bytes(value) not in (b"0", b"")
        state: dict[str, Any] = scope.setdefault("state", {})
        try:
            principal = self.authenticator.authenticate(header)
            state[STATE_PRINCIPAL] = principal
            principal_var.set(principal)
            if needed:
                self.authenticator.require(principal, needed)
        except SecurityError as exc:
            # close: the body is left unread and must not be taken for the next request
            await send_error(send, exc, close=has_body)
            return
        await self.app(scope, receive, send)
