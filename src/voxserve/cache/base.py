"""The segment cache contract: the cached value, its binary form, and the backend Protocol.

A cached value is the audio of one segment exactly as the engine produced it (before joins,
resampling and encoding), stored as 16-bit PCM with the chunk boundaries, so a hit replays
the same chunks the engine would have yielded, quantized the same way the PCM encoder does.
"""

from __future__ import annotations

import logging
import struct
import threading
import time
import zlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from voxserve.audio import pcm16, pcm16_samples
from voxserve.cache.singleflight import SingleFlight
from voxserve.metrics import CACHE_ERRORS
from voxserve.types import AudioChunk

#: Bump when the binary layout below changes; older values then read as corrupt (misses).
VALUE_FORMAT_VERSION = 1
_MAGIC = b"VXSG"
#: magic, version, 3 pad bytes, sample rate, chunk count; then the CRC-32 of every other byte.
_PREFIX = struct.Struct("<4sB3xII")
_CRC = struct.Struct("<I")
_HEADER_BYTES = _PREFIX.size + _CRC.size


class CorruptCacheValue(ValueError):
    """Stored bytes that are not a valid :class:`CachedSegment` (torn write, old format …)."""


@dataclass(frozen=True, slots=True)
class CachedSegment:
    """One segment's audio: mono s16le PCM, its rate, and the sample count of each chunk."""

    pcm_s16le: bytes
    sample_rate_hz: int
    chunk_lengths: tuple[int, ...]
    #: each chunk's phoneme alignment (word timestamps), kept while the value stays in this
    #: process (the memory cache, a miss); not encoded: a disk or Redis hit has none
    phonemes: tuple[tuple[tuple[str, int], ...] | None, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        if 2 * sum(self.chunk_lengths) != len(self.pcm_s16le):
            raise ValueError("chunk_lengths do not add up to the PCM length")
        if min(self.chunk_lengths, default=0) < 0:
            raise ValueError("chunk lengths must not be negative")
        if self.chunk_lengths and self.sample_rate_hz <= 0:
            raise ValueError("sample_rate_hz must be positive")

    @property
    def nbytes(self) -> int:
        """Approximate memory held by the value (PCM, the chunk table, the alignments)."""
        aligned = sum(len(alignment) for alignment in self.phonemes if alignment)
        return len(self.pcm_s16le) + 8 * len(self.chunk_lengths) + 64 * aligned

    @classmethod
    def from_chunks(cls, chunks: Sequence[AudioChunk]) -> CachedSegment:
        """Quantize engine chunks (clip to [-1, 1], x 32767, round, like the PCM encoder)."""
        rates = {chunk.sample_rate_hz for chunk in chunks}
        if len(rates) > 1:
            raise ValueError(f"chunks of one segment have different sample rates: {rates}")
        parts = [np.asarray(chunk.samples, dtype=np.float32).reshape(-1) for chunk in chunks]
        samples = np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
        pcm = pcm16(samples)
        return cls(
            pcm_s16le=pcm.tobytes(),
            sample_rate_hz=rates.pop() if rates else 0,
            chunk_lengths=tuple(len(part) for part in parts),
            phonemes=tuple(chunk.phonemes for chunk in chunks),
        )

    def to_chunks(self) -> list[AudioChunk]:
        """The chunks back, as float32 in [-1, 1] (a fresh array per chunk)."""
        samples = pcm16_samples(self.pcm_s16le)
        chunks = []
        start = 0
        phonemes = self.phonemes if len(self.phonemes) == len(self.chunk_lengths) else (
            (None,) * len(self.chunk_lengths))
        for length, alignment in zip(self.chunk_lengths, phonemes, strict=True):
            chunks.append(AudioChunk(samples[start : start + length], self.sample_rate_hz,
                                     alignment))
            start += length
        return chunks

    def encode(self) -> bytes:
        """Compact binary form: versioned header, chunk table, PCM; CRC-protected."""
        table = struct.pack(f"<{len(self.chunk_lengths)}I", *self.chunk_lengths)
        prefix = _PREFIX.pack(
            _MAGIC, VALUE_FORMAT_VERSION, self.sample_rate_hz, len(self.chunk_lengths)
        )
        crc = zlib.crc32(self.pcm_s16le, zlib.crc32(table, zlib.crc32(prefix)))
        return b"".join((prefix, _CRC.pack(crc), table, self.pcm_s16le))

    @classmethod
    def decode(cls, data: bytes) -> CachedSegment:
        """Parse :meth:`encode` output; raises :class:`CorruptCacheValue` on any mismatch."""
        if len(data) < _HEADER_BYTES:
            raise CorruptCacheValue(f"{len(data)} bytes is shorter than the header")
        magic, version, rate, count = _PREFIX.unpack_from(data)
        if magic != _MAGIC or version != VALUE_FORMAT_VERSION:
            raise CorruptCacheValue(f"unknown magic/version {magic!r}/{version}")
        (crc,) = _CRC.unpack_from(data, _PREFIX.size)
        view = memoryview(data)
        if zlib.crc32(view[_HEADER_BYTES:], zlib.crc32(view[: _PREFIX.size])) != crc:
            raise CorruptCacheValue("checksum mismatch")
        table_end = _HEADER_BYTES + 4 * count
        if len(data) < table_end:
            raise CorruptCacheValue("truncated chunk table")
        lengths = struct.unpack_from(f"<{count}I", data, _HEADER_BYTES)
        try:
            return cls(bytes(view[table_end:]), rate, lengths)
        except ValueError as exc:
            raise CorruptCacheValue(str(exc)) from exc


@runtime_checkable
class SegmentCache(Protocol):
    """A store of :class:`CachedSegment` by key (see :func:`voxserve.cache.segment_cache_key`).

    ``get`` and ``put`` never raise (cancellation aside): a failure is logged, counted in
    ``voxserve_cache_errors_total{backend=name}``, and ``get`` returns ``None``.
    """

    #: The ``backend`` label of this cache's metrics.
    name: str

    async def get(self, key: str) -> CachedSegment | None:
        """The value stored under ``key``, or ``None`` (miss or failure)."""
        ...

    async def put(self, key: str, value: CachedSegment) -> None:
        """Store ``value`` (best effort: it may be skipped, evicted or lost)."""
        ...

    async def close(self) -> None:
        """Release connections, threads and memory; the cache is not used afterwards."""
        ...


class NullCache:
    """``VOXSERVE_CACHE_URL=none``: stores nothing, every ``get`` is a miss (not counted)."""

    name = "none"

    async def get(self, key: str) -> CachedSegment | None:
        return None

    async def put(self, key: str, value: CachedSegment) -> None:
        return None

    async def close(self) -> None:
        return None


class ErrorReporter:
    """Counts a backend's failures and logs them at most once per ``interval_s`` (thread-safe)."""

    def __init__(self, backend: str, logger: logging.Logger, interval_s: float = 10.0) -> None:
        self._backend = backend
        self._logger = logger
        self._interval_s = interval_s
        self._lock = threading.Lock()
        self._last_log = -float("inf")
        self._suppressed = 0

    def record(self, operation: str, exc: BaseException) -> None:
        """Count one failure of ``operation`` and log it unless one was logged just now."""
        CACHE_ERRORS.labels(self._backend).inc()
        now = time.monotonic()
        with self._lock:
            if now - self._last_log < self._interval_s:
                self._suppressed += 1
                return
            suppressed, self._suppressed, self._last_log = self._suppressed, 0, now
        self._logger.warning(
            "cache %s: %s failed, the request goes on without it: %r "
            "(%d similar errors not logged since the last message)",
            self._backend, operation, exc, suppressed,
        )


async def get_or_synthesize(
    cache: SegmentCache,
    flight: SingleFlight[CachedSegment],
    key: str,
    synthesize: Callable[[], Awaitable[Sequence[AudioChunk]]],
) -> list[AudioChunk]:
    """A segment's chunks from ``cache``, else from ``synthesize()`` (then stored).

    Concurrent calls with the same key share one look-up and at most one synthesis
    (``flight``); an exception of ``synthesize`` reaches every one of them and nothing is
    stored. A hit and a miss return the same 16-bit-quantized audio, so repeated requests
    give identical bytes.
    """

    async def load() -> CachedSegment:
        value = await cache.get(key)
        if value is None:
            value = CachedSegment.from_chunks(await synthesize())
            await cache.put(key, value)
        return value

    return (await flight.run(key, load)).to_chunks()
