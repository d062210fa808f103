"""In-process LRU of segments, bounded in bytes."""

from __future__ import annotations

import threading
from collections import OrderedDict

from voxserve.cache.base import CachedSegment
from voxserve.metrics import CACHE_BYTES, CACHE_EVICTIONS, CACHE_HITS, CACHE_MISSES

#: Per-entry bookkeeping (key string, dataclass, dict slot) added to a value's own size.
ENTRY_OVERHEAD_BYTES = 256


def entry_bytes(key: str, value: CachedSegment) -> int:
    """What one entry counts against ``max_bytes``."""
    return value.nbytes + len(key) + ENTRY_OVERHEAD_BYTES


class MemoryCache:
    """Least-recently-used eviction once the entries exceed ``max_bytes``.

    Thread- and task-safe: every operation is a few dict steps under a lock, never awaiting,
    so it runs inline on the event loop. An entry larger than ``max_bytes`` is not stored.
    """

    def __init__(self, max_bytes: int, *, name: str = "memory") -> None:
        self.name = name
        self._max_bytes = max_bytes
        self._entries: OrderedDict[str, tuple[CachedSegment, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        CACHE_BYTES.labels(name).set(0)

    async def get(self, key: str) -> CachedSegment | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
        if entry is None:
            CACHE_MISSES.labels(self.name).inc()
            return None
        CACHE_HITS.labels(self.name).inc()
        return entry[0]

    async def put(self, key: str, value: CachedSegment) -> None:
        size = entry_bytes(key, value)
        if size > self._max_bytes:
            return
        evicted = 0
        with self._lock:
            previous = self._entries.pop(key, None)
            if previous is not None:
                self._bytes -= previous[1]
            self._entries[key] = (value, size)
            self._bytes += size
            while self._bytes > self._max_bytes:
                _, (_, dropped) = self._entries.popitem(last=False)
                self._bytes -= dropped
                evicted += 1
            CACHE_BYTES.labels(self.name).set(self._bytes)
        if evicted:
            CACHE_EVICTIONS.labels(self.name).inc(evicted)

    async def close(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0
            CACHE_BYTES.labels(self.name).set(0)
