"""Rate and concurrency limits in memory, their headers, and Redis outages."""

from __future__ import annotations

import asyncio
import socket

import pytest
from prometheus_client import REGISTRY

from voxserve.errors import ConfigurationError, RateLimited
from voxserve.security.limits import RateLimiter
from voxserve.security.principal import ANONYMOUS, Principal
from voxserve.settings import Settings


def limiter(**kwargs: int) -> RateLimiter:
    options = {"requests_per_minute": 3, "chars_per_minute": 100, "concurrent_streams": 2}
    options.update(kwargs)
    return RateLimiter(**options)


def test_requests_per_minute_with_headers() -> None:
    async def scenario() -> None:
        rl = limiter()
        for remaining in (2, 1, 0):
            headers = await rl.check_request("key:a")
            assert headers["X-RateLimit-Limit"] == "3"
            assert headers["X-RateLimit-Remaining"] == str(remaining)
            assert 0 <= int(headers["X-RateLimit-Reset"]) <= 60
        with pytest.raises(RateLimited) as refused:
            await rl.check_request("key:a")
        assert refused.value.limit == "requests"
        assert refused.value.code == "rate_limit_exceeded"
        assert refused.value.headers["X-RateLimit-Remaining"] == "0"
        assert refused.value.headers["X-RateLimit-Limit"] == "3"
        assert 1 <= int(refused.value.headers["Retry-After"]) <= 60
        assert refused.value.retry_after_s >= 1
        # Another identity has its own budget.
        assert (await rl.check_request("key:b"))["X-RateLimit-Remaining"] == "2"

    asyncio.run(scenario())


def test_characters_per_minute_are_weighted() -> None:
    async def scenario() -> None:
        rl = limiter(requests_per_minute=100)
        headers = await rl.check("jwt:alice", characters=60)
        assert headers["X-RateLimit-Limit-Characters"] == "100"
        assert headers["X-RateLimit-Remaining-Characters"] == "40"
        assert headers["X-RateLimit-Remaining"] == "99"
        with pytest.raises(RateLimited) as refused:
            await rl.check("jwt:alice", characters=50)
        assert refused.value.limit == "characters"
        assert refused.value.headers["X-RateLimit-Limit"] == "100"
        assert refused.value.headers["X-RateLimit-Limit-Characters"] == "100"
        headers = await rl.check("jwt:alice", characters=40)  # still fits
        assert headers["X-RateLimit-Remaining-Characters"] == "0"
        with pytest.raises(RateLimited, match="more than the limit"):
            await rl.check("jwt:bob", characters=101)  # could never pass: says so

    asyncio.run(scenario())


def test_concurrent_streams_acquire_and_release() -> None:
    async def scenario() -> None:
        rl = limiter()
        first = await rl.acquire_stream("ip:10.0.0.1")
        assert first.headers["X-RateLimit-Remaining-Streams"] == "1"
        async with rl.stream("ip:10.0.0.1") as second:
            assert second.headers["X-RateLimit-Remaining-Streams"] == "0"
            with pytest.raises(RateLimited) as refused:
                await rl.acquire_stream("ip:10.0.0.1")
            assert refused.value.limit == "concurrent_streams"
            assert refused.value.headers["Retry-After"] == "1"
            assert await rl.in_use("ip:10.0.0.1") == 2
            await rl.acquire_stream("ip:10.0.0.2")  # another client
        assert await rl.in_use("ip:10.0.0.1") == 1
        await first.release()
        await first.release()  # idempotent
        assert await rl.in_use("ip:10.0.0.1") == 0
        (await rl.acquire_stream("ip:10.0.0.1")).headers  # noqa: B018 - free again

    asyncio.run(scenario())


def test_zero_disables_a_limit() -> None:
    async def scenario() -> None:
        rl = limiter(requests_per_minute=0, chars_per_minute=0, concurrent_streams=0)
        for _ in range(10):
            assert await rl.check("x", characters=10**6) == {}
            await rl.acquire_stream("x")

    asyncio.run(scenario())


def test_identity_per_principal() -> None:
    assert ANONYMOUS.limit_identity("10.1.2.3") == "ip:10.1.2.3"
    assert Principal("svc", frozenset(), "abc123", "api_key").limit_identity("1.1.1.1") == (
        "key:abc123")
    assert Principal("alice", frozenset(), None, "jwt").limit_identity() == "jwt:alice"


def test_from_settings_and_bad_storage_url(tmp_path) -> None:  # type: ignore[no-untyped-def]
    rl = RateLimiter.from_settings(Settings(data_dir=tmp_path))
    assert rl.requests_per_minute == 600 and not rl.shared
    with pytest.raises(ConfigurationError):
        RateLimiter(requests_per_minute=1, chars_per_minute=1, concurrent_streams=1,
                    storage_url="memcached://x")


def test_redis_outage_lets_requests_through() -> None:
    with socket.socket() as sock:  # a port where nothing listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    def errors() -> float:
        return sum(REGISTRY.get_sample_value("voxserve_rate_limit_errors_total",
                                             {"operation": op}) or 0.0
                   for op in ("hit_requests", "hit_characters", "acquire_stream"))

    async def scenario() -> None:
        rl = RateLimiter(requests_per_minute=1, chars_per_minute=10, concurrent_streams=1,
                         storage_url=f"redis://127.0.0.1:{port}/0", timeout_s=0.2)
        before = errors()
        for _ in range(3):  # over every limit, yet allowed
            assert await rl.check("key:a", characters=5) == {}
            slot = await rl.acquire_stream("key:a")
            await slot.release()
        assert errors() >= before + 3
        await rl.close()

    asyncio.run(scenario())
