"""Server-Sent Events framing for ``stream_format: "sse"`` (OpenAI's speech events)."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Callable
from typing import Any


def sse_event(payload: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(payload, separators=(',', ':'))}\n\n".encode()


async def speech_events(
    audio: AsyncIterator[bytes], usage: Callable[[], dict[str, Any]]
) -> AsyncIterator[bytes]:
    """``speech.audio.delta`` per audio piece (base64), then ``speech.audio.done`` with usage."""
    async for data in audio:
        yield sse_event({"type": "speech.audio.delta", "audio": base64.b64encode(data).decode()})
    yield sse_event({"type": "speech.audio.done", "usage": usage()})
