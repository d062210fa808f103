"""DiskCache: sharded atomic files, byte bound with LRU eviction, persistence, corruption."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from voxserve.cache import CachedSegment, DiskCache
from voxserve.cache import disk as disk_module

SAMPLES = 1000


def metric(name: str, backend: str) -> float:
    return REGISTRY.get_sample_value(name, {"backend": backend}) or 0.0


def segment(fill: int, samples: int = SAMPLES) -> CachedSegment:
    return CachedSegment(bytes([fill % 256]) * 2 * samples, 16000, (samples,))


FILE_BYTES = len(segment(0).encode())


def key(index: int) -> str:
    return f"{index:064x}"[::-1]  # spread over shards


def files(root: Path) -> dict[str, int]:
    return {path.name: path.stat().st_size for path in root.rglob("*") if path.is_file()}


def run(scenario: Callable[[DiskCache], Coroutine[Any, Any, None]], root: Path,
        max_bytes: int = 10**9) -> str:
    """Run ``scenario`` on a fresh DiskCache under ``root``; returns its backend name."""
    name = f"disk-test-{uuid.uuid4().hex[:8]}"

    async def main() -> None:
        cache = DiskCache(root, max_bytes, name=name)
        try:
            await scenario(cache)
        finally:
            await cache.close()

    asyncio.run(main())
    return name


def test_round_trip_in_sharded_files(tmp_path: Path) -> None:
    async def scenario(cache: DiskCache) -> None:
        assert await cache.get(key(1)) is None
        await cache.put(key(1), segment(1))
        assert await cache.get(key(1)) == segment(1)

    name = run(scenario, tmp_path)
    path = tmp_path / key(1)[:2] / key(1)
    assert files(tmp_path) == {key(1): FILE_BYTES}
    assert path.read_bytes() == segment(1).encode()
    assert metric("voxserve_cache_hits_total", name) == 1
    assert metric("voxserve_cache_misses_total", name) == 1
    assert metric("voxserve_cache_bytes", name) == FILE_BYTES


def test_byte_bound_evicts_least_recently_used(tmp_path: Path) -> None:
    async def scenario(cache: DiskCache) -> None:
        for index in range(3):
            await cache.put(key(index), segment(index))
        assert await cache.get(key(0)) is not None  # 0 becomes the most recently used
        await cache.put(key(3), segment(3))
        await cache.put(key(4), segment(4))
        assert metric("voxserve_cache_bytes", cache.name) == 3 * FILE_BYTES

    name = run(scenario, tmp_path, max_bytes=3 * FILE_BYTES + 10)
    assert set(files(tmp_path)) == {key(0), key(3), key(4)}
    assert metric("voxserve_cache_evictions_total", name) == 2


def test_entries_survive_a_restart(tmp_path: Path) -> None:
    async def fill(cache: DiskCache) -> None:
        for index in range(4):
            await cache.put(key(index), segment(index))

    async def reopen(cache: DiskCache) -> None:
        for index in range(4):
            assert await cache.get(key(index)) == segment(index)
        assert metric("voxserve_cache_bytes", cache.name) == 4 * FILE_BYTES

    run(fill, tmp_path)
    run(reopen, tmp_path)


def test_restart_with_a_smaller_bound_evicts_by_last_use(tmp_path: Path) -> None:
    async def fill(cache: DiskCache) -> None:
        for index in range(4):
            await cache.put(key(index), segment(index))

    run(fill, tmp_path)
    for age, index in enumerate([1, 3, 0, 2]):  # 1 was used last, 2 longest ago
        path = tmp_path / key(index)[:2] / key(index)
        os.utime(path, ns=(10**18 - age * 10**9, 10**18 - age * 10**9))

    async def reopen(cache: DiskCache) -> None:
        await cache.get(key(99))  # the first use loads the index

    name = run(reopen, tmp_path, max_bytes=2 * FILE_BYTES)
    assert set(files(tmp_path)) == {key(3), key(1)}
    assert metric("voxserve_cache_evictions_total", name) == 2
    assert metric("voxserve_cache_bytes", name) == 2 * FILE_BYTES


def test_failed_write_leaves_no_file_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_replace(source: object, target: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(disk_module.os, "replace", broken_replace)

    async def scenario(cache: DiskCache) -> None:
        await cache.put(key(1), segment(1))  # does not raise
        assert await cache.get(key(1)) is None

    name = run(scenario, tmp_path)
    assert files(tmp_path) == {}
    assert metric("voxserve_cache_errors_total", name) == 1
    assert metric("voxserve_cache_bytes", name) == 0


def test_leftover_temporary_files_are_cleaned_on_start(tmp_path: Path) -> None:
    shard = tmp_path / "ab"
    shard.mkdir()
    stale = shard / f"{disk_module.TMP_PREFIX}crashed"
    stale.write_bytes(b"half a value")
    os.utime(stale, (1, 1))
    fresh = shard / f"{disk_module.TMP_PREFIX}being-written"
    fresh.write_bytes(b"another process")

    async def scenario(cache: DiskCache) -> None:
        await cache.put(key(1), segment(1))

    name = run(scenario, tmp_path)
    assert not stale.exists()
    assert fresh.exists()  # young: may belong to a live writer
    assert metric("voxserve_cache_bytes", name) == FILE_BYTES


def test_corrupt_file_is_a_miss_counted_as_error_and_removed(tmp_path: Path) -> None:
    async def fill(cache: DiskCache) -> None:
        await cache.put(key(1), segment(1))

    run(fill, tmp_path)
    path = tmp_path / key(1)[:2] / key(1)
    path.write_bytes(path.read_bytes()[:-7])

    async def scenario(cache: DiskCache) -> None:
        assert await cache.get(key(1)) is None
        assert metric("voxserve_cache_bytes", cache.name) == 0

    name = run(scenario, tmp_path)
    assert metric("voxserve_cache_errors_total", name) == 1
    assert metric("voxserve_cache_misses_total", name) == 0
    assert not path.exists()


def test_bad_key_and_oversize_value_do_not_raise(tmp_path: Path) -> None:
    async def scenario(cache: DiskCache) -> None:
        assert await cache.get("../../etc/passwd") is None
        await cache.put("../escape", segment(1))
        await cache.put(key(2), segment(2, samples=10 * SAMPLES))  # over the bound: skipped
        assert await cache.get(key(2)) is None

    name = run(scenario, tmp_path, max_bytes=2 * FILE_BYTES)
    assert files(tmp_path) == {}
    assert metric("voxserve_cache_errors_total", name) == 2


def test_concurrent_readers_and_writers(tmp_path: Path) -> None:
    async def scenario(cache: DiskCache) -> None:
        async def worker(offset: int) -> None:
            for index in range(40):
                await cache.put(key((offset + index) % 10), segment(index))
                value = await cache.get(key(index % 10))
                assert value is None or value.chunk_lengths == (SAMPLES,)

        await asyncio.gather(*(worker(n) for n in range(8)))
        assert metric("voxserve_cache_bytes", cache.name) == 5 * FILE_BYTES

    name = run(scenario, tmp_path, max_bytes=5 * FILE_BYTES)
    assert len(files(tmp_path)) == 5
    assert metric("voxserve_cache_errors_total", name) == 0
