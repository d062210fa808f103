"""Segments in Redis (shared by replicas), never allowed to slow a request down.

Every command runs under ``asyncio.wait_for(..., timeout)`` with redis-py's own retries off.
A failure (error, timeout, Redis gone) opens a circuit breaker: for ``backoff_s`` every call
is skipped at once (a ``get`` returns ``None``) and counted as an error; the next call after
that tries Redis again, so the cache comes back by itself when Redis does.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import cast

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from voxserve.cache.base import CachedSegment, CorruptCacheValue, ErrorReporter
from voxserve.metrics import CACHE_ERRORS, CACHE_HITS, CACHE_MISSES

logger = logging.getLogger(__name__)

DEFAULT_KEY_PREFIX = "voxserve:segment:"


class RedisCache:
    """``GET``/``SET key value EX ttl`` of encoded segments under ``key_prefix``."""

    def __init__(
        self,
        url: str,
        *,
        ttl_s: float,
        timeout_s: float,
        max_value_bytes: int,
        backoff_s: float = 1.0,
        key_prefix: str = DEFAULT_KEY_PREFIX,
        name: str = "redis",
    ) -> None:
        self.name = name
        self._ttl_s = max(1, round(ttl_s))
        self._timeout_s = timeout_s
        self._max_value_bytes = max_value_bytes
        self._backoff_s = backoff_s
        self.key_prefix = key_prefix
        self._skip_until = 0.0
        self._errors = ErrorReporter(name, logger)
        self._client = Redis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry=Retry(NoBackoff(), 0),
        )

    async def get(self, key: str) -> CachedSegment | None:
        if self._skipping():
            return None
        try:
            data = await asyncio.wait_for(
                self._client.get(self.key_prefix + key), self._timeout_s
            )
        except Exception as exc:
            self._failed("get", exc)
            return None
        if data is None:
            CACHE_MISSES.labels(self.name).inc()
            return None
        try:
            value = CachedSegment.decode(cast(bytes, data))  # decode_responses=False
        except CorruptCacheValue as exc:
            self._errors.record("get", exc)
            return None
        CACHE_HITS.labels(self.name).inc()
        return value

    async def put(self, key: str, value: CachedSegment) -> None:
        if self._skipping():
            return
        data = value.encode()
        if len(data) > self._max_value_bytes:
            return
        try:
            await asyncio.wait_for(
                self._client.set(self.key_prefix + key, data, ex=self._ttl_s), self._timeout_s
            )
        except Exception as exc:
            self._failed("put", exc)

    async def close(self) -> None:
        await self._client.aclose()

    def _skipping(self) -> bool:
        """True (and one error counted) while the breaker is open after a failure."""
        if time.monotonic() < self._skip_until:
            CACHE_ERRORS.labels(self.name).inc()
            return True
        return False

    def _failed(self, operation: str, exc: Exception) -> None:
        self._skip_until = time.monotonic() + self._backoff_s
        self._errors.record(operation, exc)
