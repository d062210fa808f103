"""Result cache: the audio of synthesized segments, keyed by everything that shapes it.

The service asks the cache before it runs an engine on a segment (``get_or_synthesize``)
and stores what the engine produced. Backends: an in-process LRU (``MemoryCache``), files
(``DiskCache``), Redis (``RedisCache``, imported only by the factory when configured), layered
by ``TieredCache``; ``create_segment_cache`` builds the configured one. No backend lets an
error reach the request: failures are logged, counted, and read as misses.
"""

from voxserve.cache.base import (
    CachedSegment,
    CorruptCacheValue,
    NullCache,
    SegmentCache,
    get_or_synthesize,
)
from voxserve.cache.disk import DiskCache
from voxserve.cache.factory import create_segment_cache
from voxserve.cache.keys import segment_cache_key
from voxserve.cache.memory import MemoryCache
from voxserve.cache.singleflight import SingleFlight
from voxserve.cache.tiered import TieredCache

__all__ = [
    "CachedSegment",
    "CorruptCacheValue",
    "DiskCache",
    "MemoryCache",
    "NullCache",
    "SegmentCache",
    "SingleFlight",
    "TieredCache",
    "create_segment_cache",
    "get_or_synthesize",
    "segment_cache_key",
]
