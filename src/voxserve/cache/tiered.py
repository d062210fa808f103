"""Layered caches, fastest first: memory in front of disk, or memory in front of Redis."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from voxserve.cache.base import CachedSegment, SegmentCache


class TieredCache:
    """``get`` asks each layer in turn and copies a hit into the faster layers before it.

    Writes go to the first layer at once and to the slower layers behind the caller's back
    (background tasks), so a put never waits on disk or the network. :meth:`flush` waits for
    those writes; :meth:`close` flushes, then closes every layer. Metrics are per layer (each
    counts its own hits, misses and errors under its own ``backend`` label).
    """

    def __init__(self, layers: Sequence[SegmentCache]) -> None:
        if len(layers) < 2:
            raise ValueError("a tiered cache needs at least two layers")
        self.layers = tuple(layers)
        self.name = "+".join(layer.name for layer in self.layers)
        self._pending: set[asyncio.Task[None]] = set()

    async def get(self, key: str) -> CachedSegment | None:
        for index, layer in enumerate(self.layers):
            value = await layer.get(key)
            if value is not None:
                if index:
                    await self._store(key, value, self.layers[:index])
                return value
        return None

    async def put(self, key: str, value: CachedSegment) -> None:
        await self._store(key, value, self.layers)

    async def flush(self) -> None:
        """Wait until every write started so far has reached its layer."""
        while self._pending:
            await asyncio.gather(*self._pending)

    async def close(self) -> None:
        await self.flush()
        for layer in self.layers:
            await layer.close()

    async def _store(self, key: str, value: CachedSegment, layers: Sequence[SegmentCache]) -> None:
        await layers[0].put(key, value)
        for layer in layers[1:]:
            task = asyncio.create_task(layer.put(key, value))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)
