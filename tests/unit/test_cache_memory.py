"""MemoryCache: LRU within a byte bound, with true metrics."""

from __future__ import annotations

import asyncio
import threading
import uuid

from prometheus_client import REGISTRY

from voxserve.cache import CachedSegment, MemoryCache
from voxserve.cache.memory import entry_bytes


def metric(name: str, backend: str) -> float:
    return REGISTRY.get_sample_value(name, {"backend": backend}) or 0.0


def backend_name() -> str:
    return f"memory-test-{uuid.uuid4().hex[:8]}"


def segment(samples: int, fill: int = 1) -> CachedSegment:
    return CachedSegment(fill.to_bytes(2, "little") * samples, 16000, (samples,))


def key(index: int) -> str:
    return f"{index:064x}"


def test_hit_miss_and_bytes_metrics() -> None:
    name = backend_name()

    async def scenario() -> None:
        cache = MemoryCache(1_000_000, name=name)
        value = segment(100)
        assert await cache.get(key(1)) is None
        await cache.put(key(1), value)
        assert await cache.get(key(1)) is value
        assert metric("voxserve_cache_misses_total", name) == 1
        assert metric("voxserve_cache_hits_total", name) == 1
        assert metric("voxserve_cache_bytes", name) == entry_bytes(key(1), value)
        await cache.put(key(1), segment(50))  # replacing does not count twice
        assert metric("voxserve_cache_bytes", name) == entry_bytes(key(1), segment(50))
        await cache.close()
        assert metric("voxserve_cache_bytes", name) == 0
        assert await cache.get(key(1)) is None

    asyncio.run(scenario())


def test_lru_stays_within_its_byte_bound() -> None:
    name = backend_name()
    size = entry_bytes(key(0), segment(1000))
    cache = MemoryCache(3 * size + size // 2, name=name)

    async def scenario() -> None:
        for index in range(3):
            await cache.put(key(index), segment(1000, index))
        assert await cache.get(key(0)) is not None  # 0 is now the most recently used
        await cache.put(key(3), segment(1000, 3))  # evicts 1, the least recently used
        await cache.put(key(4), segment(1000, 4))  # evicts 2
        present = [index for index in range(5) if await cache.get(key(index)) is not None]
        assert present == [0, 3, 4]
        assert metric("voxserve_cache_evictions_total", name) == 2
        assert metric("voxserve_cache_bytes", name) == 3 * size

    asyncio.run(scenario())


def test_value_larger_than_the_bound_is_not_stored() -> None:
    name = backend_name()

    async def scenario() -> None:
        cache = MemoryCache(1000, name=name)
        await cache.put(key(1), segment(10_000))
        assert await cache.get(key(1)) is None
        assert metric("voxserve_cache_bytes", name) == 0
        assert metric("voxserve_cache_evictions_total", name) == 0

    asyncio.run(scenario())


def test_threads_sharing_one_cache_keep_the_accounting_true() -> None:
    name = backend_name()
    size = entry_bytes(key(0), segment(100))
    cache = MemoryCache(20 * size, name=name)

    def worker(offset: int) -> None:
        async def run() -> None:
            for index in range(300):
                await cache.put(key((offset + index) % 50), segment(100))
                await cache.get(key(index % 50))

        asyncio.run(run())

    threads = [threading.Thread(target=worker, args=(n * 7,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    async def count() -> int:
        return sum([await cache.get(key(index)) is not None for index in range(50)])

    assert asyncio.run(count()) == 20
    assert metric("voxserve_cache_bytes", name) == 20 * size
