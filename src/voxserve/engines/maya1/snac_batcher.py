"""One SNAC decode thread per engine, shared by all its streams: windows decoded in batches.

Every stream decodes a 4-frame window per frame (:class:`.codec.StreamingDecoder`). Decoded
one by one, in each stream's own thread, those small decodes cap how many streams a GPU can
serve; here they wait in one queue and a single thread decodes them together, up to
``max_windows`` per call. A batch goes as soon as every open stream has a window waiting (one
stream alone never waits), otherwise when the oldest window has waited ``max_wait_s``.
Windows of different lengths (a short segment's tail) are decoded in separate calls.

Each window's samples are exactly those of a decode of that window alone (SNAC decodes batch
rows independently; its decoder noise is random either way). If a batched decode raises,
every window of it is decoded alone, so an error reaches only the streams whose own window
fails. :meth:`DecodeBatcher.close` fails windows still waiting and every later one with
``EngineFailed``; no stream is left waiting.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

from voxserve import metrics
from voxserve.engines.maya1.frames import Frame
from voxserve.errors import EngineFailed
from voxserve.types import FloatSamples

logger = logging.getLogger(__name__)

#: Decodes several frame sequences of one length in one call, in order.
ManyDecoder = Callable[[Sequence[Sequence[Frame]]], list[FloatSamples]]


@dataclass(slots=True)
class _Window:
    stream: int
    frames: Sequence[Frame]
    queued_s: float = field(default_factory=time.monotonic)
    result: Future[FloatSamples] = field(default_factory=Future)


class DecodeBatcher:
    """The shared decode queue and its thread."""

    def __init__(self, decode_many: ManyDecoder, *, max_windows: int, max_wait_s: float) -> None:
        self._decode_many = decode_many
        self._max_windows = max(1, max_windows)
        self._max_wait_s = max(0.0, max_wait_s)
        self._cond = threading.Condition()
        self._pending: list[_Window] = []
        self._open_streams: set[int] = set()
        self._ids = itertools.count()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="maya1-snac", daemon=True)
        self._thread.start()

    def open_stream(self) -> BatchedDecoder:
        """A decoder for one stream; close it when the stream ends."""
        with self._cond:
            if self._closed:
                raise EngineFailed("maya1: the SNAC decoder is closed")
            stream = next(self._ids)
            self._open_streams.add(stream)
        return BatchedDecoder(self, stream)

    def close(self) -> None:
        """Stop the thread; windows waiting (and any submitted later) fail."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join()

    # --- stream side ----------------------------------------------------------------------

    def _submit(self, stream: int, frames: Sequence[Frame]) -> Future[FloatSamples]:
        window = _Window(stream, frames)
        with self._cond:
            if self._closed:
                raise EngineFailed("maya1: the SNAC decoder is closed")
            self._pending.append(window)
            self._cond.notify_all()
        return window.result

    def _close_stream(self, stream: int) -> None:
        with self._cond:
            self._open_streams.discard(stream)
            self._cond.notify_all()  # the others may be all the batch waits for now

    # --- decode thread --------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while (batch := self._next_batch()) is not None:
                self._decode(batch)
        except BaseException:  # a bug: fail loudly, but never leave a stream waiting
            logger.exception("maya1: the SNAC decode thread failed")
        finally:
            with self._cond:
                self._closed = True
                pending, self._pending = self._pending, []
            for window in pending:
                window.result.set_exception(EngineFailed("maya1: the SNAC decoder is closed"))

    def _next_batch(self) -> list[_Window] | None:
        """Wait for a batch to be due and take it (``None`` once closed)."""
        with self._cond:
            self._cond.wait_for(lambda: self._pending or self._closed)
            due_s = self._pending[0].queued_s + self._max_wait_s if self._pending else 0.0
            self._cond.wait_for(
                lambda: (self._closed or len(self._pending) >= self._max_windows
                         or self._every_stream_waits()),
                timeout=max(0.0, due_s - time.monotonic()),
            )
            if self._closed:
                return None
            length = len(self._pending[0].frames)
            batch = [w for w in self._pending if len(w.frames) == length][:self._max_windows]
            taken = {id(w) for w in batch}
            self._pending = [w for w in self._pending if id(w) not in taken]
            return batch

    def _every_stream_waits(self) -> bool:
        waiting = {window.stream for window in self._pending}
        return self._open_streams <= waiting

    def _decode(self, batch: list[_Window]) -> None:
        started = time.perf_counter()
        try:
            results = self._decode_many([window.frames for window in batch])
        except Exception as error:
            if len(batch) == 1:
                batch[0].result.set_exception(error)
            else:
                for window in batch:  # isolate the failing window(s)
                    self._decode_alone(window)
        else:
            for window, samples in zip(batch, results, strict=True):
                window.result.set_result(samples)
        metrics.MAYA1_SNAC_BATCH.observe(len(batch))
        metrics.MAYA1_SNAC_DECODE.observe(time.perf_counter() - started)

    def _decode_alone(self, window: _Window) -> None:
        try:
            (samples,) = self._decode_many([window.frames])
        except Exception as error:
            window.result.set_exception(error)
        else:
            window.result.set_result(samples)


class BatchedDecoder:
    """One stream's handle: ``decoder(frames)`` decodes through the shared batch."""

    def __init__(self, batcher: DecodeBatcher, stream: int) -> None:
        self._batcher = batcher
        self._stream = stream

    def __call__(self, frames: Sequence[Frame]) -> FloatSamples:
        return self._batcher._submit(self._stream, frames).result()

    def close(self) -> None:
        self._batcher._close_stream(self._stream)

    def __enter__(self) -> BatchedDecoder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
