"""Per-principal rate and concurrency limits, in memory or shared through Redis.

Three limits per identity (:meth:`Principal.limit_identity`: the API key id, the JWT
subject, or the client address without auth); 0 disables one:

* **requests per minute** and **characters per minute** — the ``limits`` library's
  *sliding window counter* (two counters per window, the previous one weighted by how much
  of it still overlaps the last 60 s; O(1) storage even for a 200 000-character budget,
  where a moving window would store one entry per character). A request costs 1; its
  characters cost their number. Storage: ``memory://`` per process by default,
  ``redis://``/``rediss://`` (``rate_limit_storage_url``) to share them between server
  processes; the Redis updates are atomic Lua scripts, so the sum over all processes never
  exceeds the limit.
* **concurrent streams** — a counter per identity: in memory, or in Redis with an atomic
  ``INCR`` (+ ``EXPIRE``) that is undone when over the limit, and ``DECR`` on release.

Crash behaviour (Redis concurrency counter): a process that dies while streaming never
sends its ``DECR``s, so its slots stay counted until the counter key expires, which is
``stream_ttl_s`` (default 900 s) after the *last* acquire by that identity — each acquire
refreshes the expiry. An identity that keeps streaming without pause through another
process therefore keeps the leaked slots until it pauses for ``stream_ttl_s``; after a
restart of all processes, ``redis-cli --scan --pattern '<prefix>:streams:*' | xargs
redis-cli del`` clears them. Release never goes below zero (a slot released after its key
expired is ignored).

Redis trouble never fails a request: an error or a timeout (``timeout_s``) lets the request
through, logs a warning (at most one per ``backoff_s``), counts
``voxserve_rate_limit_errors_total{operation}``, and skips Redis for ``backoff_s`` before
trying again.

Headers (on success for the response, on refusal in :class:`RateLimited`):
``X-RateLimit-Limit``, ``X-RateLimit-Remaining``, ``X-RateLimit-Reset`` (seconds until the
window frees capacity, integer) for the requests limit — on a refusal for the limit that
refused — and, when characters are counted, ``X-RateLimit-Limit-Characters``,
``X-RateLimit-Remaining-Characters``, ``X-RateLimit-Reset-Characters``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from limits import RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter

from voxserve.errors import ConfigurationError, RateLimited
from voxserve.metrics import RATE_LIMIT_ERRORS, RATE_LIMITED
from voxserve.settings import Settings

logger = logging.getLogger(__name__)

_ACQUIRE_LUA = """
local n = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
if n > tonumber(ARGV[1]) then
  n = redis.call('DECR', KEYS[1])
  return -1
end
return n
"""
_RELEASE_LUA = """
local n = redis.call('DECR', KEYS[1])
if n <= 0 then
  redis.call('DEL', KEYS[1])
  return 0
end
return n
"""

T = TypeVar("T")


def _is_redis(url: str) -> bool:
    return url.startswith(("redis://", "rediss://"))


def validate_storage_url(url: str) -> None:
    if url in ("memory", "memory://") or _is_redis(url):
        return
    raise ConfigurationError(
        f"VOXSERVE_RATE_LIMIT_STORAGE_URL must be 'memory' or redis://host:port/db, not {url!r}"
    )


@dataclass(frozen=True, slots=True)
class LimitState:
    limit: int
    remaining: int
    reset_s: float

    def headers(self, suffix: str = "") -> dict[str, str]:
        return {
            f"X-RateLimit-Limit{suffix}": str(self.limit),
            f"X-RateLimit-Remaining{suffix}": str(max(0, self.remaining)),
            f"X-RateLimit-Reset{suffix}": str(max(0, math.ceil(self.reset_s))),
        }


@dataclass
class StreamSlot:
    """One concurrent-stream slot; :meth:`release` it when the stream ends (idempotent)."""

    _release: Callable[[], Awaitable[None]] | None
    headers: dict[str, str] = field(default_factory=dict)

    async def release(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            await release()


class RateLimiter:
    """Requests/characters per minute and concurrent streams, per identity."""

    def __init__(
        self,
        *,
        requests_per_minute: int,
        chars_per_minute: int,
        concurrent_streams: int,
        storage_url: str = "memory",
        key_prefix: str = "voxserve:rl",
        stream_ttl_s: int = 900,
        timeout_s: float = 0.25,
        backoff_s: float = 5.0,
    ) -> None:
        validate_storage_url(storage_url)
        self.requests_per_minute = requests_per_minute
        self.chars_per_minute = chars_per_minute
        self.concurrent_streams = concurrent_streams
        self.key_prefix = key_prefix
        self.stream_ttl_s = stream_ttl_s
        self.timeout_s = timeout_s
        self.backoff_s = backoff_s
        self.shared = _is_redis(storage_url)
        self._down_until = 0.0
        self._requests_item = RateLimitItemPerMinute(max(1, requests_per_minute),
                                                     namespace="requests")
        self._chars_item = RateLimitItemPerMinute(max(1, chars_per_minute),
                                                  namespace="characters")
        self._streams: dict[str, int] = {}
        self._redis: Any = None
        self._acquire_script: Any = None
        self._release_script: Any = None
        storage: Storage
        if self.shared:
            options = {"socket_timeout": timeout_s, "socket_connect_timeout": timeout_s}
            storage = RedisStorage(
                "async+" + storage_url, implementation="redispy", key_prefix=key_prefix,
                wrap_exceptions=True, **options,
            )
            import redis.asyncio

            self._redis = redis.asyncio.Redis.from_url(
                storage_url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
            )
            self._acquire_script = self._redis.register_script(_ACQUIRE_LUA)
            self._release_script = self._redis.register_script(_RELEASE_LUA)
        else:
            storage = MemoryStorage()
        self._storage = storage
        self._limiter = SlidingWindowCounterRateLimiter(storage)

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> RateLimiter:
        return cls(
            requests_per_minute=settings.rate_limit_requests_per_minute,
            chars_per_minute=settings.rate_limit_chars_per_minute,
            concurrent_streams=settings.rate_limit_concurrent_streams,
            storage_url=settings.rate_limit_storage_url,
            **overrides,
        )

    async def close(self) -> None:
        if self._redis is not None:
            with contextlib.suppress(Exception):
                await self._redis.aclose()
            bridge = getattr(self._storage, "bridge", None)
            client = getattr(bridge, "storage", None)
            if client is not None:
                with contextlib.suppress(Exception):
                    await client.aclose()

    # --- storage calls that degrade to "allowed" --------------------------------------

    async def _guarded(self, operation: str, call: Callable[[], Awaitable[T]]) -> T | None:
        """``call()``, or ``None`` when the shared storage failed (or is in back-off)."""
        if not self.shared:
            return await call()
        if time.monotonic() < self._down_until:
            RATE_LIMIT_ERRORS.labels(operation).inc()
            return None
        try:
            return await asyncio.wait_for(call(), self.timeout_s * 4)
        except Exception as exc:
            RATE_LIMIT_ERRORS.labels(operation).inc()
            self._down_until = time.monotonic() + self.backoff_s
            logger.warning(
                "rate-limit storage failed; letting requests through for %.0f s",
                self.backoff_s, extra={"operation": operation, "error": repr(exc)},
            )
            return None

    # --- requests and characters ------------------------------------------------------

    async def _hit(self, name: str, item: RateLimitItemPerMinute, identity: str,
                   cost: int) -> LimitState | None:
        async def call() -> tuple[bool, Any]:
            allowed = await self._limiter.hit(item, identity, cost=cost)
            stats = await self._limiter.get_window_stats(item, identity)
            return allowed, stats

        result = await self._guarded(f"hit_{name}", call)
        if result is None:
            return None
        allowed, stats = result
        state = LimitState(item.amount, stats.remaining, max(0.0, stats.reset_time - time.time()))
        if not allowed:
            RATE_LIMITED.labels(name).inc()
            suffix = "" if name == "requests" else "-Characters"
            headers = state.headers(suffix)
            if suffix:  # the generic trio describes the refusing limit
                headers |= state.headers()
            raise RateLimited(
                f"rate limit reached: {item.amount} {name} per minute",
                retry_after_s=max(1.0, state.reset_s), limit=name, headers=headers,
            )
        return state

    async def check_request(self, identity: str) -> dict[str, str]:
        """Count one request; :class:`RateLimited` when over; the headers for the response."""
        if self.requests_per_minute <= 0:
            return {}
        state = await self._hit("requests", self._requests_item, identity, 1)
        return state.headers() if state else {}

    async def check_characters(self, identity: str, characters: int) -> dict[str, str]:
        """Count ``characters`` against the per-minute budget (refused when over)."""
        if self.chars_per_minute <= 0 or characters <= 0:
            return {}
        if characters > self.chars_per_minute:
            RATE_LIMITED.labels("characters").inc()
            raise RateLimited(
                f"the request has {characters} characters, more than the limit of "
                f"{self.chars_per_minute} characters per minute; split it",
                retry_after_s=60.0, limit="characters",
                headers=LimitState(self.chars_per_minute, 0, 60.0).headers("-Characters"),
            )
        state = await self._hit("characters", self._chars_item, identity, characters)
        return state.headers("-Characters") if state else {}

    async def check(self, identity: str, characters: int = 0) -> dict[str, str]:
        """:meth:`check_request` then :meth:`check_characters`; all headers together."""
        headers = await self.check_request(identity)
        headers |= await self.check_characters(identity, characters)
        return headers

    # --- concurrent streams -------------------------------------------------------------

    def _stream_key(self, identity: str) -> str:
        return f"{self.key_prefix}:streams:{identity}"

    async def acquire_stream(self, identity: str) -> StreamSlot:
        """A stream slot, or :class:`RateLimited`; release it when the stream ends."""
        limit = self.concurrent_streams
        if limit <= 0:
            return StreamSlot(None)
        if not self.shared:
            current = self._streams.get(identity, 0)
            if current >= limit:
                self._refuse_stream(limit)
            self._streams[identity] = current + 1

            async def release_memory() -> None:
                left = self._streams.get(identity, 0) - 1
                if left > 0:
                    self._streams[identity] = left
                else:
                    self._streams.pop(identity, None)

            return StreamSlot(release_memory, self._stream_headers(limit, current + 1))
        key = self._stream_key(identity)
        result = await self._guarded(
            "acquire_stream", lambda: self._acquire_script(keys=[key],
                                                           args=[limit, self.stream_ttl_s])
        )
        if result is None:  # Redis trouble: allowed, and nothing to release
            return StreamSlot(None)
        if int(result) < 0:
            self._refuse_stream(limit)

        async def release_redis() -> None:
            await self._guarded("release_stream", lambda: self._release_script(keys=[key]))

        return StreamSlot(release_redis, self._stream_headers(limit, int(result)))

    @staticmethod
    def _stream_headers(limit: int, in_use: int) -> dict[str, str]:
        return {"X-RateLimit-Limit-Streams": str(limit),
                "X-RateLimit-Remaining-Streams": str(max(0, limit - in_use))}

    @staticmethod
    def _refuse_stream(limit: int) -> None:
        RATE_LIMITED.labels("concurrent_streams").inc()
        raise RateLimited(
            f"too many concurrent streams: at most {limit} at once per credential",
            retry_after_s=1.0, limit="concurrent_streams",
            headers={"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": "0",
                     "X-RateLimit-Reset": "1",
                     **RateLimiter._stream_headers(limit, limit)},
        )

    @contextlib.asynccontextmanager
    async def stream(self, identity: str) -> AsyncIterator[StreamSlot]:
        """``async with limiter.stream(identity):`` — acquire, and release on exit."""
        slot = await self.acquire_stream(identity)
        try:
            yield slot
        finally:
            await slot.release()

    async def in_use(self, identity: str) -> int:
        """Streams now counted for ``identity`` (diagnostics and tests)."""
        if not self.shared:
            return self._streams.get(identity, 0)
        value = await self._redis.get(self._stream_key(identity))
        return int(value or 0)

