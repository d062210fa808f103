"""SingleFlight deduplication, and get_or_synthesize (cache + single-flight) on top of it."""

from __future__ import annotations

import asyncio
import uuid
from functools import partial

import numpy as np
import pytest

from voxserve.cache import CachedSegment, MemoryCache, SingleFlight, get_or_synthesize
from voxserve.types import AudioChunk


def test_concurrent_calls_share_one_execution() -> None:
    calls = 0

    async def work() -> str:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        return "audio"

    async def scenario() -> None:
        flight: SingleFlight[str] = SingleFlight()
        results = await asyncio.gather(*(flight.run("k", work) for _ in range(10)))
        assert results == ["audio"] * 10
        assert calls == 1
        assert len(flight) == 0
        assert await flight.run("k", work) == "audio"  # finished work is not reused
        assert calls == 2

    asyncio.run(scenario())


def test_different_keys_run_separately() -> None:
    async def scenario() -> None:
        flight: SingleFlight[str] = SingleFlight()

        async def echo(value: str) -> str:
            await asyncio.sleep(0)
            return value

        results = await asyncio.gather(
            *(flight.run(k, partial(echo, k)) for k in ("a", "b", "a"))
        )
        assert results == ["a", "b", "a"]

    asyncio.run(scenario())


def test_an_exception_reaches_every_waiter() -> None:
    calls = 0

    async def work() -> str:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        raise RuntimeError("engine failed")

    async def scenario() -> None:
        flight: SingleFlight[str] = SingleFlight()
        results = await asyncio.gather(
            *(flight.run("k", work) for _ in range(10)), return_exceptions=True
        )
        assert calls == 1
        assert all(isinstance(r, RuntimeError) and str(r) == "engine failed" for r in results)
        assert len(flight) == 0

    asyncio.run(scenario())


def test_a_cancelled_waiter_does_not_cancel_the_work_for_others() -> None:
    async def scenario() -> None:
        release = asyncio.Event()
        calls = 0

        async def work() -> str:
            nonlocal calls
            calls += 1
            await release.wait()
            return "audio"

        flight: SingleFlight[str] = SingleFlight()
        waiters = [asyncio.create_task(flight.run("k", work)) for _ in range(3)]
        await asyncio.sleep(0)
        waiters[0].cancel()
        await asyncio.sleep(0)
        release.set()
        assert await waiters[1] == await waiters[2] == "audio"
        with pytest.raises(asyncio.CancelledError):
            await waiters[0]
        assert calls == 1

    asyncio.run(scenario())


def test_the_work_is_cancelled_when_every_waiter_is_gone() -> None:
    async def scenario() -> None:
        started = asyncio.Event()
        cancelled = asyncio.Event()

        async def work() -> str:
            started.set()
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                cancelled.set()
                raise
            return "never"

        flight: SingleFlight[str] = SingleFlight()
        waiters = [asyncio.create_task(flight.run("k", work)) for _ in range(2)]
        await started.wait()
        for waiter in waiters:
            waiter.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)
        await asyncio.wait_for(cancelled.wait(), 5)
        assert len(flight) == 0

        async def quick() -> str:
            return "fresh"

        assert await flight.run("k", quick) == "fresh"  # a new call starts new work

    asyncio.run(scenario())


# --- get_or_synthesize -----------------------------------------------------------------------


def engine_chunks() -> list[AudioChunk]:
    samples = np.linspace(-0.9, 0.9, 3000, dtype=np.float32)
    return [AudioChunk(samples[:1000], 16000), AudioChunk(samples[1000:], 16000)]


def test_get_or_synthesize_synthesizes_once_then_hits() -> None:
    calls = 0

    async def synthesize() -> list[AudioChunk]:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        return engine_chunks()

    async def scenario() -> None:
        cache = MemoryCache(10**6, name=f"mem-{uuid.uuid4().hex[:8]}")
        flight: SingleFlight[CachedSegment] = SingleFlight()
        key = "ef" * 32
        first = await asyncio.gather(
            *(get_or_synthesize(cache, flight, key, synthesize) for _ in range(5))
        )
        again = await get_or_synthesize(cache, flight, key, synthesize)
        assert calls == 1
        for chunks in [*first, again]:
            assert [len(c.samples) for c in chunks] == [1000, 2000]
            for got, expected in zip(chunks, again, strict=True):
                np.testing.assert_array_equal(got.samples, expected.samples)
        np.testing.assert_allclose(again[0].samples, engine_chunks()[0].samples, atol=1e-4)

    asyncio.run(scenario())


def test_get_or_synthesize_stores_nothing_on_failure() -> None:
    async def failing() -> list[AudioChunk]:
        raise RuntimeError("engine failed")

    async def scenario() -> None:
        cache = MemoryCache(10**6, name=f"mem-{uuid.uuid4().hex[:8]}")
        flight: SingleFlight[CachedSegment] = SingleFlight()
        with pytest.raises(RuntimeError, match="engine failed"):
            await get_or_synthesize(cache, flight, "01" * 32, failing)
        assert await cache.get("01" * 32) is None

    asyncio.run(scenario())
