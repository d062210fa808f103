"""SSE framing and keep-alive comments (api/sse.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from voxserve.api.sse import KEEPALIVE_FRAME, sse_event, with_keepalive


def test_event_frame_is_compact_json_with_optional_name() -> None:
    assert sse_event({"a": 1, "b": [1, 2]}) == b'data: {"a":1,"b":[1,2]}\n\n'
    assert sse_event({"x": "y"}, event="progress") == b'event: progress\ndata: {"x":"y"}\n\n'


def test_keepalive_comments_fill_silences_and_events_pass_in_order() -> None:
    closed = asyncio.Event()

    async def slow() -> AsyncIterator[bytes]:
        try:
            yield b"one"
            await asyncio.sleep(0.35)
            yield b"two"
        finally:
            closed.set()

    async def run() -> list[bytes]:
        return [frame async for frame in with_keepalive(slow(), interval_s=0.1)]

    frames = asyncio.run(run())
    assert frames[0] == b"one" and frames[-1] == b"two"
    keepalives = frames[1:-1]
    assert 2 <= len(keepalives) <= 4 and set(keepalives) == {KEEPALIVE_FRAME}
    assert closed.is_set()


def test_closing_the_stream_closes_the_source_while_it_waits() -> None:
    finished = []

    async def endless() -> AsyncIterator[bytes]:
        try:
            while True:
                await asyncio.sleep(10)
                yield b"never"
        finally:
            finished.append(True)

    async def run() -> bytes:
        stream = with_keepalive(endless(), interval_s=0.05)
        frame = await anext(stream)
        await stream.aclose()  # type: ignore[attr-defined]
        return frame

    assert asyncio.run(run()) == KEEPALIVE_FRAME
    assert finished == [True]
