"""SpeechService.open/store/plan: the one speech use case every transport calls."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.audio_tools import decode_audio
from voxserve.cache.memory import MemoryCache
from voxserve.engines.catalog import EngineCatalog
from voxserve.errors import DeadlineExceeded, EngineFailed, NotReady, Overloaded, ShuttingDown
from voxserve.scheduler import Priority, Scheduler
from voxserve.service.lifecycle import ServiceState
from voxserve.service.speech import SpeechService
from voxserve.service.speech_job import SpeechInput
from voxserve.settings import Settings
from voxserve.storage import LocalArtifactStore
from voxserve.types import AudioFormat


def _fake(text: str, **options: object) -> SpeechInput:
    return SpeechInput(text=text, model="fake", audio_format=AudioFormat.WAV, options=options)


def test_plan_refuses_while_loading_and_while_draining(
    settings: Settings, catalog: EngineCatalog
) -> None:
    state = ServiceState()
    service = SpeechService(settings, catalog, Scheduler(settings), state=state)
    with pytest.raises(NotReady):
        service.plan(_fake("Hello."))
    state.started = True
    assert service.plan(_fake("Hello.")).segments == ("Hello.",)
    state.draining = True
    with pytest.raises(ShuttingDown):
        service.plan(_fake("Hello."))


def test_open_gives_first_audio_then_the_rest(settings: Settings, catalog: EngineCatalog) -> None:
    async def run() -> tuple[bytes, int, float]:
        scheduler = Scheduler(settings)
        scheduler.start(catalog.replicas())
        try:
            service = SpeechService(settings, catalog, scheduler)
            stream = await service.open(service.plan(_fake("One here. Two there.")))
            assert stream.time_to_first_audio_s >= 0
            data = await stream.read_all()
            return data, stream.stats.segments_done, stream.stats.audio_s
        finally:
            await scheduler.stop()

    data, segments_done, audio_s = asyncio.run(run())
    samples, rate = decode_audio(data)
    assert segments_done == 2
    assert len(samples) / rate == pytest.approx(audio_s, abs=1e-3)


def test_open_raises_deadline_exceeded_and_stops_the_synthesis(
    settings: Settings, catalog: EngineCatalog
) -> None:
    async def run() -> int:
        scheduler = Scheduler(settings)
        scheduler.start(catalog.replicas())
        try:
            service = SpeechService(settings, catalog, scheduler)
            job = service.plan(_fake("Slow one. Slow two. Slow three.", sleep_ms=400))
            with pytest.raises(DeadlineExceeded):
                await service.open(job, first_audio_timeout_s=0.05)
            await asyncio.sleep(0.5)  # the running segment ends; nothing more starts
            return scheduler.engine("fake").queued() + scheduler.engine("fake").running()
        finally:
            await scheduler.stop()

    assert asyncio.run(run()) == 0


def test_open_raises_engine_failure_before_first_audio(
    settings: Settings, catalog: EngineCatalog
) -> None:
    async def run() -> None:
        scheduler = Scheduler(settings)
        scheduler.start(catalog.replicas())
        try:
            service = SpeechService(settings, catalog, scheduler)
            with pytest.raises(EngineFailed):
                await service.open(service.plan(_fake("Boom here.", fail_on="Boom")))
        finally:
            await scheduler.stop()

    asyncio.run(run())


def test_open_serves_a_fully_cached_job_when_the_engine_refuses(
    settings: Settings, catalog: EngineCatalog
) -> None:
    """Admission refuses everything (no queue place); the cached job still plays, an
    uncached one gets ``Overloaded``."""
    refusing = settings.model_copy(update={"queue_budget_ms": 1.0})

    async def run() -> tuple[bytes, bytes]:
        scheduler = Scheduler(refusing)
        scheduler.start(catalog.replicas())
        try:
            service = SpeechService(refusing, catalog, scheduler, cache=MemoryCache(1 << 20))
            job = service.plan(_fake("Cached sentence."))
            first = await (await service.open(job)).read_all()
            await asyncio.sleep(0.05)  # the replica has returned from that segment
            # its second sentence is being synthesized once the first has played
            blocker = await service.open(
                service.plan(_fake("Busy one. Busy two. Busy three.", sleep_ms=300)),
                use_cache=False,
            )
            scheduler.engine("fake").estimate.observe(60.0, 1)  # now it looks far behind
            again = await (await service.open(job)).read_all()
            with pytest.raises(Overloaded):
                await service.open(service.plan(_fake("Never heard before.")))
            await blocker.aclose()
            return first, again
        finally:
            await scheduler.stop()

    first, again = asyncio.run(run())
    assert first == again


def test_store_keeps_the_whole_stream(
    settings: Settings, catalog: EngineCatalog, tmp_path: Path
) -> None:
    store = LocalArtifactStore(tmp_path)

    async def run() -> tuple[object, bytes]:
        scheduler = Scheduler(settings)
        scheduler.start(catalog.replicas())
        try:
            service = SpeechService(settings, catalog, scheduler, artifacts=store)
            job = service.plan(SpeechInput(text="Kept. Whole.", model="fake",
                                           audio_format=AudioFormat.OPUS))
            stored = await service.store(await service.open(job, Priority.BATCH))
            return stored, await store.get(stored.key)  # type: ignore[attr-defined]
        finally:
            await scheduler.stop()

    stored, data = asyncio.run(run())
    assert stored.key.startswith("speech/") and stored.key.endswith(".ogg")  # type: ignore[attr-defined]
    assert stored.url is None and stored.expires_in_s is None  # type: ignore[attr-defined]
    assert stored.content_type == "audio/ogg"  # type: ignore[attr-defined]
    assert stored.bytes == len(data)  # type: ignore[attr-defined]
    samples, rate = decode_audio(data)
    assert len(samples) / rate == pytest.approx(stored.audio_s, abs=0.05)  # type: ignore[attr-defined]
