"""SpeechService: validation, streaming, stopping early."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import numpy as np
import pytest

from tests.audio_tools import decode_audio, max_step
from tests.conftest import running_service
from voxserve.cache.memory import MemoryCache
from voxserve.engines.catalog import EngineCatalog
from voxserve.engines.fake import FAKE_SAMPLE_RATE_HZ, FakeEngine, tone_for
from voxserve.errors import (
    EmptyText,
    InvalidOption,
    InvalidRequest,
    Overloaded,
    TextTooLong,
    UnsupportedSampleRate,
)
from voxserve.scheduler import Scheduler
from voxserve.service.speech import SpeechService
from voxserve.service.speech_job import SpeechJob, SpeechStats, plan_job
from voxserve.settings import Settings
from voxserve.types import AudioFormat


@pytest.fixture(scope="module")
def plan(settings: Settings, catalog: EngineCatalog):  # type: ignore[no-untyped-def]
    def make(**fields: object) -> SpeechJob:
        return plan_job(settings, catalog, **fields)  # type: ignore[arg-type]

    return make


@pytest.mark.parametrize(
    ("fields", "error", "param"),
    [
        ({"text": ""}, EmptyText, "input"),
        ({"text": " \n\t "}, EmptyText, "input"),
        ({"text": "\x00\x01\x02"}, EmptyText, "input"),
        ({"text": "x" * 4097}, TextTooLong, "input"),
        ({"text": "Hi.", "speed": 0.1}, InvalidRequest, "speed"),
        ({"text": "Hi.", "speed": 4.5}, InvalidRequest, "speed"),
        ({"text": "Hi.", "sample_rate_hz": 12345}, UnsupportedSampleRate, "sample_rate"),
        ({"text": "Hi.", "options": {"noise_scale": -1}}, InvalidOption, "options.noise_scale"),
    ],
)
def test_plan_refuses_bad_requests(
    plan: Any, fields: dict[str, object], error: type[Exception], param: str
) -> None:
    with pytest.raises(error) as caught:
        plan(**fields)
    assert caught.value.param == param  # type: ignore[attr-defined]


def test_plan_splits_and_defaults(plan: Any) -> None:
    job = plan(text="Hello there. How are you today?")
    assert job.segments == ("Hello there.", "How are you today?")
    assert job.audio_format == AudioFormat.MP3
    assert job.sample_rate_hz == 22050
    assert job.voice.id == "en_US-joe-medium"


def _collect(
    settings: Settings, catalog: EngineCatalog, job: SpeechJob, stats: SpeechStats | None = None
) -> bytes:
    async def run() -> bytes:
        async with running_service(settings, catalog) as service:
            return b"".join([part async for part in service.stream(job, stats)])

    return asyncio.run(run())


def test_stream_fake_engine_joins_segments_in_order(
    settings: Settings, catalog: EngineCatalog, plan: Any
) -> None:
    text = "First one. Second sentence here. Third."
    job = plan(text=text, model="fake", audio_format=AudioFormat.WAV)
    stats = SpeechStats()
    samples, rate = decode_audio(_collect(settings, catalog, job, stats))
    assert rate == 16000
    expected = [tone_for(segment) for segment in job.segments]
    silence = 0.2 * 16000 * (len(expected) - 1)
    assert abs(len(samples) - (sum(map(len, expected)) + silence)) < 0.05 * 16000
    assert stats.segments_done == 3
    assert stats.audio_s == pytest.approx(len(samples) / 16000, abs=1e-3)
    # Segments come back in order: each stretch between silences has its own tone's pitch.
    position = 0
    for segment, tone in zip(job.segments, expected, strict=True):
        piece = samples[position : position + len(tone)]
        spectrum = np.abs(np.fft.rfft(piece))
        peak_hz = np.argmax(spectrum) * 16000 / len(piece)
        assert peak_hz == pytest.approx(_tone_hz(segment), abs=5), segment
        position += len(tone) + int(0.2 * 16000)
    assert max_step(samples) < 0.2


def _tone_hz(text: str) -> float:
    import zlib

    return 200.0 + zlib.crc32(text.encode()) % 600


@pytest.mark.parametrize("audio_format", list(AudioFormat))
def test_every_format_decodes_with_real_voice(
    settings: Settings, catalog: EngineCatalog, plan: Any, audio_format: AudioFormat
) -> None:
    job = plan(text="Hello there. How are you today?", audio_format=audio_format)
    stats = SpeechStats()
    data = _collect(settings, catalog, job, stats)
    if audio_format == AudioFormat.PCM:
        decoded_s = len(data) / 2 / 22050
    else:
        samples, rate = decode_audio(data)
        decoded_s = len(samples) / rate
    assert 1.0 < decoded_s < 6.0
    assert decoded_s == pytest.approx(stats.audio_s, abs=0.15)


def test_resampled_output(settings: Settings, catalog: EngineCatalog, plan: Any) -> None:
    job = plan(text="Hello there.", audio_format=AudioFormat.WAV, sample_rate_hz=16000)
    samples, rate = decode_audio(_collect(settings, catalog, job))
    assert rate == 16000
    assert 0.5 < len(samples) / rate < 3.0


def test_joins_are_click_free_with_real_voice(
    settings: Settings, catalog: EngineCatalog, plan: Any
) -> None:
    job = plan(
        text="The birch canoe slid on the smooth planks. Glue the sheet to the dark blue "
        "background. It's easy to tell the depth of a well.",
        audio_format=AudioFormat.PCM,
    )
    data = _collect(settings, catalog, job)
    samples = np.frombuffer(data, "<i2").astype(np.float32) / 32768
    # The configured 200 ms pauses are exact digital silence; audio must fade into and out of
    # them (a click would be a loud sample right next to the silence).
    runs = _silent_runs(samples, min_length=int(0.15 * 22050))
    assert len(runs) == 2, runs
    for start, end in runs:
        assert np.max(np.abs(samples[start - 10 : start])) < 0.03
        assert np.max(np.abs(samples[end : end + 10])) < 0.03


def _silent_runs(samples: np.ndarray, min_length: int) -> list[tuple[int, int]]:
    silent = np.concatenate([[False], np.abs(samples) < 1e-4, [False]])
    changes = np.flatnonzero(np.diff(silent.astype(np.int8)))
    pairs = zip(changes[::2], changes[1::2], strict=True)
    return [(int(a), int(b)) for a, b in pairs if b - a >= min_length]


def test_stopping_early_synthesizes_no_more_segments(
    settings: Settings, catalog: EngineCatalog, plan: Any
) -> None:
    fake = catalog.engine("fake")
    assert isinstance(fake, FakeEngine)
    text = " ".join(f"Sentence number {n}." for n in range(1, 11))
    job = plan(text=text, model="fake", audio_format=AudioFormat.PCM)
    before = len(fake.segments_synthesized)

    async def take_first() -> None:
        async with running_service(settings, catalog) as service:
            stream = service.stream(job)
            await anext(stream)
            await stream.aclose()

    asyncio.run(take_first())
    # The first segment, plus at most the one prefetched while it was encoded.
    assert len(fake.segments_synthesized) - before <= 2


def test_streaming_is_thread_safe_for_concurrent_jobs(
    settings: Settings, catalog: EngineCatalog, plan: Any
) -> None:
    texts = [f"Request {n} speaks. It has two sentences." for n in range(6)]
    results: dict[int, int] = {}

    def worker(n: int) -> None:
        job = plan(text=texts[n], audio_format=AudioFormat.FLAC)
        samples, _rate = decode_audio(_collect(settings, catalog, job))
        results[n] = len(samples)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 6 and all(length > 22050 for length in results.values())


def test_admission_counts_requests_whose_cache_lookup_is_pending(
    settings: Settings, catalog: EngineCatalog, plan: Any
) -> None:
    """A burst of cache-miss requests is admitted at once, before any lookup returns:
    each holds its queue place from admission, so the bound holds (and no place leaks).
    The engine's idle replica will start one of them at once: 3 may wait, 4 are admitted."""
    bounded = settings.model_copy(update={"max_queue_segments": 3})
    jobs = [plan(text=f"Burst request {n}.", model="fake", audio_format=AudioFormat.PCM)
            for n in range(6)]

    async def burst() -> tuple[int, int, int]:
        scheduler = Scheduler(bounded)
        scheduler.start(catalog.replicas())
        engine = scheduler.engine("fake")
        service = SpeechService(bounded, catalog, scheduler, cache=MemoryCache(1 << 20))
        streams, refused = [], 0
        try:
            for job in jobs:  # no await in between: no lookup has finished yet
                try:
                    streams.append(service.stream(job))
                except Overloaded:
                    refused += 1
            held = engine.reserved()
            for stream in streams:
                async for _ in stream:
                    pass
            # cache hits need no queue place: theirs is given back
            async for _ in service.stream(jobs[0]):
                pass
            return refused, held, engine.reserved()
        finally:
            await scheduler.stop()

    assert len(catalog.replicas()["fake"]) == 1
    refused, held, left = asyncio.run(burst())
    assert refused == 2 and held == 4
    assert left == 0


@pytest.mark.parametrize("streams_within_segment", [False, True])
def test_renderer_joins_pieces_of_a_sentence_but_pauses_between_sentences(
    settings: Settings, plan: Any, streams_within_segment: bool
) -> None:
    """Maya1-like engines stream pieces of one sentence (joined with no pause); Piper-like
    engines may yield two sentences for one segment (each gets the sentence pause)."""
    from dataclasses import replace

    from voxserve.service.renderer import AudioRenderer
    from voxserve.types import AudioChunk

    job = plan(text="Two pieces.", model="fake", audio_format=AudioFormat.PCM,
               sample_rate_hz=FAKE_SAMPLE_RATE_HZ)  # the voice's rate: nothing resampled
    engine = FakeEngine(settings)
    engine.capabilities = replace(FakeEngine.capabilities,
                                  streams_within_segment=streams_within_segment)
    job = replace(job, engine=engine)
    rate = job.voice.sample_rate_hz
    piece = (0.5 * np.sin(2 * np.pi * 300 * np.arange(rate // 2) / rate)).astype(np.float32)
    renderer = AudioRenderer(job, settings, SpeechStats())
    out = np.concatenate([renderer.push(AudioChunk(piece, rate)),
                          renderer.push(AudioChunk(piece, rate)), renderer.end_segment()])
    pause = round(settings.sentence_silence_ms * rate / 1000)
    assert out.size == 2 * piece.size + (0 if streams_within_segment else pause)
