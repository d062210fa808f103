"""A unit of scheduled work: one segment, its priority, and the channel its audio comes back on."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from enum import IntEnum

from voxserve.engines.base import SegmentRequest
from voxserve.scheduler.admission import FirstAudioEstimate
from voxserve.types import AudioChunk


class Priority(IntEnum):
    """Lower value runs first. API requests are interactive; document segments are batch."""

    INTERACTIVE = 0
    BATCH = 1

    @property
    def label(self) -> str:
        return self.name.lower()


class _End:
    """Marks the end of a task's chunk stream."""


_END = _End()


@dataclass(eq=False)
class SegmentTask:
    """One segment waiting for, or being, synthesized.

    The replica thread pushes chunks with :meth:`deliver` (thread-safe) and ends with
    :meth:`finish`; the requester iterates :meth:`chunks`. :meth:`cancel` (from the event loop)
    makes a queued task be skipped and a running one stop between chunks.
    """

    request: SegmentRequest
    priority: Priority
    loop: asyncio.AbstractEventLoop
    enqueued_at_s: float = field(default_factory=time.monotonic)
    started_at_s: float | None = None
    #: For a request's first segment admitted near the budget: admission's estimate, until
    #: the calibration has learned from it (then None).
    first_audio_estimate: FirstAudioEstimate | None = None
    #: When the replica thread delivered the first chunk (written by that thread only).
    first_audio_at_s: float | None = None
    #: The replica thread has delivered its last chunk (set before the end reaches the
    #: requester, so a next segment it submits never counts as running beside this one).
    delivered_all: bool = False
    _results: asyncio.Queue[AudioChunk | BaseException | _End] = field(
        default_factory=asyncio.Queue
    )
    _cancelled: threading.Event = field(default_factory=threading.Event)

    @property
    def chars(self) -> int:
        """Characters of the segment's text (the unit of admission's work estimate)."""
        return len(self.request.text)

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def cancel(self) -> None:
        self._cancelled.set()

    # --- producer side (replica threads) ------------------------------------------------

    def deliver(self, chunk: AudioChunk) -> None:
        if self.first_audio_at_s is None:
            self.first_audio_at_s = time.monotonic()
        self.loop.call_soon_threadsafe(self._results.put_nowait, chunk)

    def fail(self, error: BaseException) -> None:
        self.loop.call_soon_threadsafe(self._results.put_nowait, error)

    def finish(self) -> None:
        self.delivered_all = True
        self.loop.call_soon_threadsafe(self._results.put_nowait, _END)

    # --- consumer side (event loop) -----------------------------------------------------

    async def chunks(self) -> AsyncIterator[AudioChunk]:
        """The segment's audio as it is produced; raises what the engine raised."""
        while True:
            item = await self._results.get()
            if isinstance(item, _End):
                return
            if isinstance(item, BaseException):
                raise item
            yield item
