"""The HTTP side of the rate limits (``voxserve.security.limits`` counts): the dependency
that counts a request, the helpers routes use to put headers and stream slots on their
request, and :class:`RateLimitMiddleware`, which adds those headers to the response and
releases the slots when it has ended."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from voxserve.api.auth import current_principal
from voxserve.security.limits import RateLimiter, StreamSlot
from voxserve.security.principal import ANONYMOUS

#: ``request.state`` key holding the rate-limit headers the response should carry.
STATE_HEADERS = "rate_limit_headers"
#: ``request.state`` key holding the stream slots to release when the response has ended.
STATE_SLOTS = "stream_slots"


def client_identity(request: Request) -> str:
    """The identity the limits count under for this request (after ``require_scope``)."""
    principal = current_principal(request) or ANONYMOUS
    return principal.limit_identity(request.client.host if request.client else None)


def add_rate_limit_headers(request: Request, headers: dict[str, str]) -> None:
    current: dict[str, str] = getattr(request.state, STATE_HEADERS, None) or {}
    setattr(request.state, STATE_HEADERS, {**current, **headers})


def hold_stream_slot(request: Request, slot: StreamSlot) -> None:
    """Keep ``slot`` until the response ends (its last body message is about to be sent,
    it failed, or the client went away): :class:`RateLimitMiddleware` releases it then, and
    adds its headers to the response."""
    slots: list[StreamSlot] = getattr(request.state, STATE_SLOTS, None) or []
    slots.append(slot)
    setattr(request.state, STATE_SLOTS, slots)
    add_rate_limit_headers(request, slot.headers)


async def count_request(request: Request) -> None:
    """FastAPI dependency (after ``require_scope``): one request against requests/minute.

    Uses ``app.state.rate_limiter``; :class:`RateLimited` (429) when over; the headers go
    on the response through :class:`RateLimitMiddleware`.
    """
    limiter: RateLimiter = request.app.state.rate_limiter
    add_rate_limit_headers(request, await limiter.check_request(client_identity(request)))


class RateLimitMiddleware:
    """Adds the headers collected in ``request.state.rate_limit_headers`` to the response
    (headers the app set win), and releases the stream slots of :func:`hold_stream_slot` once
    the app has returned — for a streamed response that is after its last byte, or after
    it failed or the client disconnected. Pure ASGI: streamed responses pass untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})

        async def send_with_headers(message: Message) -> None:
            extra = state.get(STATE_HEADERS)
            if message["type"] == "http.response.start" and extra:
                headers = list(message.get("headers", []))
                present = {bytes(name).lower() for name, _ in headers}
                for name, value in extra.items():
                    raw = name.lower().encode("latin-1")
                    if raw not in present:
                        headers.append((raw, value.encode("latin-1")))
                message["headers"] = headers
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                # Before the last bytes leave: a client that starts its next stream as soon
                # as this one ends must find the slot free (released after the send, the
                # slot was still held while the app unwound, and such a client got a 429).
                await _release_slots(state)
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            await _release_slots(state)


async def _release_slots(state: dict[str, Any]) -> None:
    for slot in state.pop(STATE_SLOTS, None) or ():
        await asyncio.shield(slot.release())
