"""The segment cache a process uses, from ``VOXSERVE_CACHE_URL`` and the ``cache_*`` settings."""

from __future__ import annotations

from voxserve.cache.base import NullCache, SegmentCache
from voxserve.cache.disk import DiskCache
from voxserve.cache.memory import MemoryCache
from voxserve.cache.tiered import TieredCache
from voxserve.errors import ConfigurationError
from voxserve.settings import Settings

_REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def create_segment_cache(settings: Settings) -> SegmentCache:
    """``memory``: memory LRU + disk under ``<data_dir>/cache``; ``none``: no cache;
    ``redis://…`` (or ``rediss://``, ``unix://``): memory LRU in front of Redis.

    A layer whose byte bound is 0 (``cache_memory_bytes``, ``cache_disk_bytes``) is left out.
    Raises ``ConfigurationError`` for another URL or when the ``redis`` package is missing.
    """
    url = settings.cache_url.strip()
    back: SegmentCache | None = None
    if url == "none":
        return NullCache()
    if url == "memory":
        if settings.cache_disk_bytes > 0:
            root = settings.data_dir.expanduser() / "cache"
            back = DiskCache(root, settings.cache_disk_bytes)
    elif url.startswith(_REDIS_SCHEMES):
        back = _redis_cache(url, settings)
    else:
        raise ConfigurationError(
            f"VOXSERVE_CACHE_URL={url!r}: expected 'memory', 'none' or 'redis://host:port/db'"
        )
    layers: list[SegmentCache] = []
    if settings.cache_memory_bytes > 0:
        layers.append(MemoryCache(settings.cache_memory_bytes))
    if back is not None:
        layers.append(back)
    if not layers:
        return NullCache()
    return layers[0] if len(layers) == 1 else TieredCache(layers)


def _redis_cache(url: str, settings: Settings) -> SegmentCache:
    try:
        from voxserve.cache.redis import RedisCache
    except ImportError as exc:
        raise ConfigurationError(
            f"VOXSERVE_CACHE_URL={url!r} needs the 'redis' package (pip install voxserve[redis])"
        ) from exc
    return RedisCache(
        url,
        ttl_s=settings.cache_ttl_s,
        timeout_s=settings.cache_timeout_ms / 1000.0,
        max_value_bytes=settings.cache_max_value_bytes,
    )
