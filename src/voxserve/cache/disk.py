"""Segments as files under ``<data_dir>/cache``, bounded in bytes, kept across restarts.

Layout: ``<root>/<first two hex digits of the key>/<key>``, one encoded
:class:`CachedSegment` per file. Writes go to a temporary file in the same directory and are
renamed into place, so a reader sees a whole value or none; the value's CRC catches what a
crash could still tear (no fsync: losing a cache entry is harmless). Each hit bumps the file's
mtime, which orders eviction (least recently used first) and survives restarts: the index is
rebuilt from a directory scan on first use. All file IO runs on a small private thread pool.

The byte bound is kept per process; several processes may share the directory (each sees
the others' files) but then only approximately stay within it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import TypeVar

from voxserve.cache.base import CachedSegment, CorruptCacheValue, ErrorReporter
from voxserve.metrics import CACHE_BYTES, CACHE_EVICTIONS, CACHE_HITS, CACHE_MISSES

logger = logging.getLogger(__name__)

TMP_PREFIX = ".tmp-"
#: Temporary files older than this at start-up are left-overs of a crash and are removed.
STALE_TMP_S = 600.0
_KEY = re.compile(r"[0-9a-f]{8,128}")
_SHARD = re.compile(r"[0-9a-f]{2}")

R = TypeVar("R")


class DiskCache:
    """LRU-by-mtime file cache; see the module docstring."""

    def __init__(
        self, root: Path, max_bytes: int, *, name: str = "disk", io_threads: int = 4
    ) -> None:
        self.name = name
        self.root = root
        self._max_bytes = max_bytes
        self._index: OrderedDict[str, int] = OrderedDict()  # key -> file size, oldest first
        self._bytes = 0
        self._loaded = False
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(io_threads, thread_name_prefix=f"cache-{name}")
        self._errors = ErrorReporter(name, logger)

    async def get(self, key: str) -> CachedSegment | None:
        try:
            value = await self._run(partial(self._read, key))
        except Exception as exc:
            self._errors.record("get", exc)
            return None
        (CACHE_MISSES if value is None else CACHE_HITS).labels(self.name).inc()
        return value

    async def put(self, key: str, value: CachedSegment) -> None:
        try:
            await self._run(partial(self._write, key, value))
        except Exception as exc:
            self._errors.record("put", exc)

    async def close(self) -> None:
        await asyncio.to_thread(self._pool.shutdown)

    async def _run(self, function: Callable[[], R]) -> R:
        return await asyncio.get_running_loop().run_in_executor(self._pool, function)

    # --- on the IO threads --------------------------------------------------------------
    # Renames, unlinks and index changes happen together under ``_lock``, so the index always
    # matches the files; reading and writing the bytes happen outside it.

    def _read(self, key: str) -> CachedSegment | None:
        path = self._path(key)
        self._ensure_loaded()
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            with self._lock:
                if not path.exists():  # else it was written just now
                    self._forget(key)
            return None
        try:
            value = CachedSegment.decode(data)
        except CorruptCacheValue:
            with self._lock:
                self._forget(key)
                path.unlink(missing_ok=True)
            raise
        with self._lock:
            try:
                os.utime(path)  # the file's mtime is its last use
                self._record(key, path.stat().st_size)
            except FileNotFoundError:  # evicted since it was read
                self._forget(key)
        return value

    def _write(self, key: str, value: CachedSegment) -> None:
        path = self._path(key)
        data = value.encode()
        if len(data) > self._max_bytes:
            return
        self._ensure_loaded()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{TMP_PREFIX}{uuid.uuid4().hex}")
        try:
            tmp.write_bytes(data)
            with self._lock:
                os.replace(tmp, path)
                self._record(key, len(data))
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def _path(self, key: str) -> Path:
        if not _KEY.fullmatch(key):
            raise ValueError(f"disk cache keys are lowercase hex digests, not {key!r}")
        return self.root / key[:2] / key

    def _record(self, key: str, size: int) -> None:
        """Mark ``key`` as just used with ``size`` bytes, then evict down to the bound."""
        self._forget(key)
        self._index[key] = size
        self._bytes += size
        self._evict()

    def _evict(self) -> None:
        """Remove the least recently used files until within the bound."""
        evicted = 0
        while self._bytes > self._max_bytes and self._index:
            victim, size = self._index.popitem(last=False)
            self._bytes -= size
            (self.root / victim[:2] / victim).unlink(missing_ok=True)
            evicted += 1
        CACHE_BYTES.labels(self.name).set(self._bytes)
        if evicted:
            CACHE_EVICTIONS.labels(self.name).inc(evicted)

    def _forget(self, key: str) -> None:
        """Drop ``key`` from the index."""
        size = self._index.pop(key, None)
        if size is not None:
            self._bytes -= size
            CACHE_BYTES.labels(self.name).set(self._bytes)

    def _ensure_loaded(self) -> None:
        """Rebuild the index from the files on first use (blocks other IO threads meanwhile)."""
        with self._lock:
            if self._loaded:
                return
            for _, key, size in sorted(self._scan()):
                self._index[key] = size
                self._bytes += size
            self._loaded = True
            self._evict()  # the bound may be smaller than last run's

    def _scan(self) -> list[tuple[int, str, int]]:
        """(mtime_ns, key, size) of every entry; removes stale temporary files."""
        found: list[tuple[int, str, int]] = []
        if not self.root.is_dir():
            return found
        stale_before_ns = time.time_ns() - int(STALE_TMP_S * 1e9)
        for shard in self.root.iterdir():
            if not (_SHARD.fullmatch(shard.name) and shard.is_dir()):
                continue
            with os.scandir(shard) as entries:
                for entry in entries:
                    try:
                        stat = entry.stat(follow_symlinks=False)
                    except FileNotFoundError:
                        continue
                    if entry.name.startswith(TMP_PREFIX):
                        if stat.st_mtime_ns < stale_before_ns:
                            Path(entry.path).unlink(missing_ok=True)
                    elif _KEY.fullmatch(entry.name) and entry.is_file(follow_symlinks=False):
                        found.append((stat.st_mtime_ns, entry.name, stat.st_size))
        return found
