"""Server-Sent Events: the one place their frames are written.

``stream_format: "sse"`` speech (OpenAI's ``speech.audio.delta``/``speech.audio.done``) and
project progress both go through :func:`sse_response`, which also sends a comment line when
no event has left for a while, so proxies and load balancers don't close an idle stream
(a long sentence on a busy engine, a long chapter between progress changes).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from fastapi.responses import StreamingResponse

#: A comment frame: ignored by every SSE client, enough to keep a connection busy.
KEEPALIVE_FRAME = b": keep-alive\n\n"


def sse_event(payload: Any, event: str | None = None) -> bytes:
    """One event frame: an optional ``event:`` name, then the payload as compact JSON."""
    data = json.dumps(payload, separators=(",", ":"))
    name = f"event: {event}\n" if event else ""
    return f"{name}data: {data}\n\n".encode()


async def with_keepalive(
    frames: AsyncIterator[bytes], interval_s: float
) -> AsyncIterator[bytes]:
    """``frames`` as they come, plus :data:`KEEPALIVE_FRAME` after each ``interval_s``
    without one. Closing the result closes ``frames``."""
    pending: asyncio.Task[bytes] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(anext(frames))
            done, _ = await asyncio.wait({pending}, timeout=interval_s)
            if not done:
                yield KEEPALIVE_FRAME
                continue
            try:
                frame = pending.result()
            except StopAsyncIteration:
                return
            finally:
                pending = None
            yield frame
    finally:
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending
        aclose = getattr(frames, "aclose", None)
        if aclose is not None:
            await aclose()


def sse_response(
    frames: AsyncIterator[bytes], *, keepalive_s: float,
    headers: Mapping[str, str] | None = None,
) -> StreamingResponse:
    """A ``text/event-stream`` response of ``frames`` with keep-alive comments; not cached
    and not buffered by proxies (``X-Accel-Buffering: no`` for nginx)."""
    return StreamingResponse(
        with_keepalive(frames, keepalive_s), media_type="text/event-stream",
        headers={**(headers or {}), "Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def speech_events(
    audio: AsyncIterator[bytes], usage: Callable[[], dict[str, Any]],
    words: Callable[[], list[dict[str, Any]]] | None = None,
) -> AsyncIterator[bytes]:
    """``speech.audio.delta`` per audio piece (base64), then ``speech.audio.done`` with usage.
    With ``words`` (the words timed since its last call), a ``speech.word_timestamps`` event
    follows each delta after which a sentence's words are known (issue 21)."""

    def timestamps() -> bytes:
        new = words() if words is not None else []
        return sse_event({"type": "speech.word_timestamps", "words": new}) if new else b""

    async for data in audio:
        yield sse_event({"type": "speech.audio.delta", "audio": base64.b64encode(data).decode()})
        if frame := timestamps():
            yield frame
    if frame := timestamps():
        yield frame
    yield sse_event({"type": "speech.audio.done", "usage": usage()})
