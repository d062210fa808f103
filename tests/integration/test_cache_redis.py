"""RedisCache against a real, private ``redis-server`` (started here, on a free port).

Covers the round trip, TTL, the value size limit, and degradation: with Redis killed or
frozen, calls still complete at once as misses/no-ops (counted as errors), and the cache
works again by itself once Redis is back.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from voxserve.cache import CachedSegment

redis = pytest.importorskip("redis", reason="the Redis cache needs redis-py (the redis extra)")

from tests.integration.services import RedisProcess  # noqa: E402
from voxserve.cache.redis import RedisCache  # noqa: E402

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("redis-server") is None,
                       reason="redis-server is not on PATH (apt-get install redis-server)"),
]

#: Generous for loaded CI machines; the degradation tests use their own short timeout.
TIMEOUT_S = 2.0
#: Hang detector for calls that must return at once when Redis is down.
GUARD_S = 5.0
VALUE = CachedSegment(b"\x10\x00" * 4000, 22050, (1000, 3000))


def metric(name: str, backend: str) -> float:
    return REGISTRY.get_sample_value(name, {"backend": backend}) or 0.0


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisProcess]:
    process = RedisProcess(tmp_path)
    process.start()
    try:
        yield process
    finally:
        if process.process is not None and process.process.poll() is None:
            process.signal(signal.SIGCONT)
        process.kill()


def new_cache(server: RedisProcess, **overrides: float) -> RedisCache:
    options: dict[str, float] = {"ttl_s": 60.0, "timeout_s": TIMEOUT_S, "max_value_bytes": 10**5,
                                 "backoff_s": 0.2, **overrides}
    return RedisCache(
        server.url,
        ttl_s=options["ttl_s"],
        timeout_s=options["timeout_s"],
        max_value_bytes=int(options["max_value_bytes"]),
        backoff_s=options["backoff_s"],
        key_prefix=f"test:{uuid.uuid4().hex}:",
        name=f"redis-test-{uuid.uuid4().hex[:8]}",
    )


def test_round_trip_with_ttl(server: RedisProcess) -> None:
    cache = new_cache(server, ttl_s=90)

    async def scenario() -> None:
        assert await cache.get("k1") is None
        await cache.put("k1", VALUE)
        assert await cache.get("k1") == VALUE
        await cache.close()

    asyncio.run(scenario())
    with server.client() as client:
        keys = client.keys(f"{cache.key_prefix}*")
        assert keys == [f"{cache.key_prefix}k1".encode()]
        assert 0 < client.ttl(keys[0]) <= 90
    assert metric("voxserve_cache_hits_total", cache.name) == 1
    assert metric("voxserve_cache_misses_total", cache.name) == 1
    assert metric("voxserve_cache_errors_total", cache.name) == 0


def test_oversize_values_are_not_stored(server: RedisProcess) -> None:
    cache = new_cache(server, max_value_bytes=len(VALUE.encode()) - 1)

    async def scenario() -> None:
        await cache.put("big", VALUE)
        assert await cache.get("big") is None
        await cache.close()

    asyncio.run(scenario())
    with server.client() as client:
        assert client.keys(f"{cache.key_prefix}*") == []
    assert metric("voxserve_cache_errors_total", cache.name) == 0


def test_corrupt_value_is_a_counted_miss(server: RedisProcess) -> None:
    cache = new_cache(server)
    with server.client() as client:
        client.set(f"{cache.key_prefix}bad", b"not a segment")

    async def scenario() -> None:
        assert await cache.get("bad") is None
        await cache.put("good", VALUE)  # Redis itself is fine: no backoff after a bad value
        assert await cache.get("good") == VALUE
        await cache.close()

    asyncio.run(scenario())
    assert metric("voxserve_cache_errors_total", cache.name) == 1


async def wait_until_working(cache: RedisCache) -> None:
    """Retry put+get until the cache serves values again (the breaker lets calls through)."""
    while True:
        await cache.put("back", VALUE)
        if await cache.get("back") == VALUE:
            return
        await asyncio.sleep(0.05)


def test_dead_redis_degrades_to_misses_and_recovers(server: RedisProcess) -> None:
    cache = new_cache(server, timeout_s=0.2)

    async def scenario() -> None:
        await cache.put("k", VALUE)
        assert await cache.get("k") == VALUE
        server.kill()
        errors = metric("voxserve_cache_errors_total", cache.name)
        for _ in range(5):
            assert await asyncio.wait_for(cache.get("k"), GUARD_S) is None
            await asyncio.wait_for(cache.put("k", VALUE), GUARD_S)
        assert metric("voxserve_cache_errors_total", cache.name) >= errors + 10
        server.start()
        await asyncio.wait_for(wait_until_working(cache), 10)
        await cache.close()

    asyncio.run(scenario())


def test_frozen_redis_times_out_and_recovers(server: RedisProcess) -> None:
    cache = new_cache(server, timeout_s=0.2)

    async def scenario() -> None:
        await cache.put("k", VALUE)
        server.signal(signal.SIGSTOP)  # connections open, no replies: a hung Redis
        try:
            errors = metric("voxserve_cache_errors_total", cache.name)
            assert await asyncio.wait_for(cache.get("k"), GUARD_S) is None
            await asyncio.wait_for(cache.put("k2", VALUE), GUARD_S)
            assert metric("voxserve_cache_errors_total", cache.name) >= errors + 2
        finally:
            server.signal(signal.SIGCONT)
        await asyncio.wait_for(wait_until_working(cache), 10)
        assert await cache.get("k") == VALUE
        await cache.close()

    asyncio.run(scenario())
