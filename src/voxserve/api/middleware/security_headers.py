"""Response headers every answer carries: ``X-Content-Type-Options: nosniff`` (a browser
never guesses a JSON error or an audio file to be HTML), and ``Strict-Transport-Security``
on HTTPS (served with TLS, or behind a trusted proxy that says so through
``X-Forwarded-Proto``). The server's name is not sent (``server_header=False`` in
``voxserve.server``). Pure ASGI: streamed responses pass untouched."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

NOSNIFF = (b"x-content-type-options", b"nosniff")
#: Two years, as the HSTS preload list asks; subdomains are not assumed to be voxserve's.
HSTS = (b"strict-transport-security", b"max-age=63072000")


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = [NOSNIFF, HSTS] if scope.get("scheme") == "https" else [NOSNIFF]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {bytes(name).lower() for name, _ in headers}
                headers.extend(h for h in extra if h[0] not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
