"""TieredCache (memory in front of a slower layer) and create_segment_cache."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from voxserve.cache import (
    CachedSegment,
    DiskCache,
    MemoryCache,
    NullCache,
    SegmentCache,
    TieredCache,
    create_segment_cache,
)
from voxserve.errors import ConfigurationError
from voxserve.settings import Settings

KEY = "ab" * 32
VALUE = CachedSegment(b"\x01\x00" * 500, 22050, (200, 300))


def metric(name: str, backend: str) -> float:
    return REGISTRY.get_sample_value(name, {"backend": backend}) or 0.0


def layers(tmp_path: Path) -> tuple[MemoryCache, DiskCache]:
    suffix = uuid.uuid4().hex[:8]
    return (MemoryCache(10**6, name=f"mem-{suffix}"),
            DiskCache(tmp_path, 10**6, name=f"disk-{suffix}"))


def test_put_writes_every_layer(tmp_path: Path) -> None:
    async def scenario() -> None:
        memory, disk = layers(tmp_path)
        cache = TieredCache([memory, disk])
        assert cache.name == f"{memory.name}+{disk.name}"
        await cache.put(KEY, VALUE)
        assert await memory.get(KEY) == VALUE  # the front layer is written at once
        await cache.flush()
        assert await disk.get(KEY) == VALUE
        await cache.close()

    asyncio.run(scenario())


def test_hit_in_the_back_layer_is_promoted(tmp_path: Path) -> None:
    async def scenario() -> None:
        memory, disk = layers(tmp_path)
        cache = TieredCache([memory, disk])
        await disk.put(KEY, VALUE)
        assert await cache.get(KEY) == VALUE
        assert await cache.get(KEY) == VALUE  # now from memory
        assert metric("voxserve_cache_hits_total", memory.name) == 1
        assert metric("voxserve_cache_misses_total", memory.name) == 1
        assert metric("voxserve_cache_hits_total", disk.name) == 1
        assert await cache.get("cd" * 32) is None
        assert metric("voxserve_cache_misses_total", disk.name) == 1
        await cache.close()
        assert metric("voxserve_cache_bytes", memory.name) == 0

    asyncio.run(scenario())


def test_a_tier_needs_two_layers() -> None:
    with pytest.raises(ValueError, match="two layers"):
        TieredCache([NullCache()])


# --- factory --------------------------------------------------------------------------------


def close(cache: SegmentCache) -> None:
    asyncio.run(cache.close())


def test_factory_memory_is_memory_in_front_of_disk(tmp_path: Path) -> None:
    cache = create_segment_cache(Settings(data_dir=tmp_path, cache_url="memory"))
    assert isinstance(cache, TieredCache)
    memory, disk = cache.layers
    assert isinstance(memory, MemoryCache)
    assert isinstance(disk, DiskCache)
    assert disk.root == tmp_path / "cache"
    close(cache)


def test_factory_redis_is_memory_in_front_of_redis(tmp_path: Path) -> None:
    pytest.importorskip("redis")
    from voxserve.cache.redis import RedisCache

    settings = Settings(data_dir=tmp_path, cache_url="redis://127.0.0.1:1/0")
    cache = create_segment_cache(settings)
    assert isinstance(cache, TieredCache)
    assert [type(layer) for layer in cache.layers] == [MemoryCache, RedisCache]
    close(cache)


def test_factory_none_and_empty_layers(tmp_path: Path) -> None:
    assert isinstance(create_segment_cache(Settings(data_dir=tmp_path, cache_url="none")),
                      NullCache)
    memory_only = create_segment_cache(
        Settings(data_dir=tmp_path, cache_url="memory", cache_disk_bytes=0))
    assert isinstance(memory_only, MemoryCache)
    disk_only = create_segment_cache(
        Settings(data_dir=tmp_path, cache_url="memory", cache_memory_bytes=0))
    assert isinstance(disk_only, DiskCache)
    close(disk_only)
    nothing = create_segment_cache(
        Settings(data_dir=tmp_path, cache_memory_bytes=0, cache_disk_bytes=0))
    assert isinstance(nothing, NullCache)


def test_factory_refuses_unknown_urls(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="VOXSERVE_CACHE_URL"):
        create_segment_cache(Settings(data_dir=tmp_path, cache_url="memcached://x"))


def test_null_cache_stores_nothing() -> None:
    async def scenario() -> None:
        cache = NullCache()
        await cache.put(KEY, VALUE)
        assert await cache.get(KEY) is None

    asyncio.run(scenario())
