"""Speech synthesis for one request: validate, segment, synthesize, join, resample, encode.

``SpeechService.plan`` turns request fields into a validated :class:`SpeechJob` (raising
domain errors); ``admit`` asks the engine's scheduler whether it can take the job; ``stream``
yields encoded bytes as audio arrives from the scheduler, so the first bytes leave as soon as
the first sentence is synthesized; ``synthesize_iter`` is the blocking, in-process form used
by the CLI.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Callable,
    Iterator,
    Mapping,
    Sequence,
)
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from voxserve.audio import SegmentJoiner, StreamResampler, create_encoder
from voxserve.cache import (
    CachedSegment,
    NullCache,
    SegmentCache,
    SingleFlight,
    get_or_synthesize,
    segment_cache_key,
)
from voxserve.engines.base import Engine, SegmentRequest, SynthesisParams, parse_options
from voxserve.engines.catalog import EngineCatalog
from voxserve.errors import EmptyText, InvalidRequest, TextTooLong, UnsupportedSampleRate
from voxserve.scheduler import EngineScheduler, Priority, QueueReservation, Scheduler, SegmentTask
from voxserve.settings import Settings
from voxserve.text import prepare_segments
from voxserve.types import (
    SUPPORTED_SAMPLE_RATES_HZ,
    AudioChunk,
    AudioFormat,
    FloatSamples,
    VoiceInfo,
)

MIN_SPEED = 0.25
MAX_SPEED = 4.0
_PASSTHROUGH_FORMATS = frozenset({AudioFormat.PCM, AudioFormat.WAV})
#: Compressed formats are encoded in slices of this many seconds (first bytes leave sooner).
_ENCODE_SLICE_S = 0.25


@dataclass(frozen=True, slots=True)
class SpeechJob:
    """A validated request, ready to synthesize."""

    engine: Engine
    voice: VoiceInfo
    segments: tuple[str, ...]
    params: SynthesisParams
    audio_format: AudioFormat
    sample_rate_hz: int
    input_chars: int


@dataclass(slots=True)
class SpeechStats:
    """Filled in while a job streams; read by the caller when it is done."""

    audio_samples: int = 0
    sample_rate_hz: int = 0
    segments_done: int = 0
    output_bytes: int = 0

    @property
    def audio_s(self) -> float:
        return self.audio_samples / self.sample_rate_hz if self.sample_rate_hz else 0.0


class AudioRenderer:
    """Engine chunks -> encoded bytes: click-free joins, resampling, incremental encoding.

    An engine that streams within a segment (Maya1, a chunk per frame) yields pieces of one
    sentence: they are joined as one. Any other engine's chunks are sentences of their own
    (Piper splits a segment where espeak sees a sentence end): each gets its edges trimmed
    and faded and the pause between sentences, as segments do.
    """

    def __init__(self, job: SpeechJob, settings: Settings, stats: SpeechStats) -> None:
        self._chunks_are_sentences = not job.engine.capabilities.streams_within_segment
        source_rate_hz = job.voice.sample_rate_hz
        self._joiner = SegmentJoiner(
            source_rate_hz,
            silence_between_ms=settings.sentence_silence_ms,
            fade_ms=settings.join_fade_ms,
        )
        self._resampler = StreamResampler(source_rate_hz, job.sample_rate_hz)
        self._encoder = create_encoder(job.audio_format, job.sample_rate_hz)
        self._stats = stats
        self._stats.sample_rate_hz = job.sample_rate_hz
        self.content_type = self._encoder.content_type

    def add(self, chunks: Sequence[AudioChunk]) -> bytes:
        """A whole segment's chunks -> encoded bytes."""
        parts = [self.push(chunk) for chunk in chunks] + [self.end_segment()]
        return self.encode(np.concatenate(parts).astype(np.float32))

    def push(self, chunk: AudioChunk) -> FloatSamples:
        """The next chunk of the current segment, joined (trimmed, faded, after the pause)
        and resampled: the samples to encode now."""
        if self._chunks_are_sentences:
            return self._resampler.process(self._joiner.add(chunk.samples))
        return self._resampler.process(self._joiner.push(chunk.samples))

    def end_segment(self) -> FloatSamples:
        """The current segment has ended: its held-back end, to encode now."""
        return self._resampler.process(self._joiner.end_segment())

    def encode(self, samples: FloatSamples) -> bytes:
        return self._encode(samples)

    def finish(self) -> bytes:
        tail = self._encode(self._resampler.flush())
        return tail + self._encoder.finish()

    def _encode(self, samples: np.ndarray) -> bytes:
        if len(samples) == 0:
            return b""
        self._stats.audio_samples += len(samples)
        return self._encoder.encode(samples)


class _SegmentSource(Protocol):
    def chunks(self) -> AsyncIterator[AudioChunk]: ...
    def cancel(self) -> None: ...


class _Submit(Protocol):
    """Queues segment ``index`` (the first with the request's queue reservation)."""

    def __call__(
        self, index: int, reservation: QueueReservation | None = None
    ) -> _SegmentSource: ...


class _Scheduled:
    """A segment straight from the scheduler: chunks stream as the engine yields them."""

    def __init__(self, scheduler: EngineScheduler, task: SegmentTask) -> None:
        self._scheduler, self._task = scheduler, task

    def chunks(self) -> AsyncIterator[AudioChunk]:
        return self._task.chunks()

    def cancel(self) -> None:
        self._scheduler.cancel(self._task)


class _Cached:
    """A segment from the cache, or synthesized once (single-flight) and then cached."""

    def __init__(
        self, task: asyncio.Task[list[AudioChunk]], reservation: QueueReservation | None
    ) -> None:
        self._task = task
        self._reservation = reservation

    async def chunks(self) -> AsyncIterator[AudioChunk]:
        for chunk in await asyncio.shield(self._task):
            yield chunk

    def cancel(self) -> None:
        self._task.cancel()
        if self._reservation is not None:  # a task cancelled before it ran holds it still
            self._reservation.release()


class SpeechService:
    """Plans speech jobs and streams them through the cache and the scheduler."""

    def __init__(
        self,
        settings: Settings,
        catalog: EngineCatalog,
        scheduler: Scheduler,
        cache: SegmentCache | None = None,
    ) -> None:
        self._settings = settings
        self._catalog = catalog
        self._scheduler = scheduler
        self._cache: SegmentCache = cache or NullCache()
        self._flight: SingleFlight[CachedSegment] = SingleFlight()
        #: Validate request fields into a :class:`SpeechJob` (see :func:`plan_job`).
        self.plan = functools.partial(plan_job, settings, catalog)

    # --- synthesis ----------------------------------------------------------------------

    def stream(
        self,
        job: SpeechJob,
        stats: SpeechStats | None = None,
        priority: Priority = Priority.INTERACTIVE,
        *,
        use_cache: bool = True,
        admit: bool = True,
    ) -> AsyncGenerator[bytes, None]:
        """Admit the job, then stream encoded audio as it is synthesized; the next segment
        is queued while one plays. ``admit=False`` skips admission: only for a job whose
        audio is all in the cache (:meth:`fully_cached`), which needs no engine.

        Raises ``Overloaded`` (nothing queued) when the engine's scheduler refuses the job.
        Otherwise its place in the queue is held from admission on and its first segment is
        queued now (or looked up in the cache, then queued), so concurrent requests see each
        other; iterate the result to get the audio. Segments of deterministic engines come
        from the cache when present (and are stored after synthesis) unless ``use_cache`` is
        False. Closing the iterator (the client went away) cancels the queued segment and
        stops the running one after its current chunk.
        """
        reservation = self._scheduler.engine(job.engine.name).reserve(priority) if admit \
            else None
        try:
            submit = self._submitter(job, priority, use_cache=use_cache)
            first = submit(0, reservation)
        except BaseException:
            if reservation is not None:
                reservation.release()
            raise
        return self._stream(job, stats or SpeechStats(), submit, first)

    async def fully_cached(self, job: SpeechJob) -> bool:
        """Whether every segment of the job is in the cache now (so it needs no engine)."""
        if not self._cacheable(job):
            return False
        for text in job.segments:
            key = self._segment_key(job, SegmentRequest(text, job.voice.id, job.params))
            if await self._cache.get(key) is None:
                return False
        return True

    def _cacheable(self, job: SpeechJob) -> bool:
        return (
            not isinstance(self._cache, NullCache)
            and job.engine.capabilities.deterministic
            and bool(job.voice.version)
        )

    @staticmethod
    def _segment_key(job: SpeechJob, request: SegmentRequest) -> str:
        return segment_cache_key(
            engine=job.engine.name,
            voice_id=job.voice.id,
            voice_version=job.voice.version,
            text=request.text,
            params=request.params,
            sample_rate_hz=job.voice.sample_rate_hz,
        )

    def _submitter(
        self, job: SpeechJob, priority: Priority, *, use_cache: bool
    ) -> _Submit:
        scheduler = self._scheduler.engine(job.engine.name)
        cached = use_cache and self._cacheable(job)

        def submit(index: int, reservation: QueueReservation | None = None) -> _SegmentSource:
            request = SegmentRequest(job.segments[index], job.voice.id, job.params)
            if not cached:
                return _Scheduled(scheduler, scheduler.submit(request, priority, reservation))
            lookup = self._cached_segment(request, job, priority, reservation)
            return _Cached(asyncio.ensure_future(lookup), reservation)

        return submit

    async def _stream(
        self,
        job: SpeechJob,
        stats: SpeechStats,
        submit: Callable[[int], _SegmentSource],
        first: _SegmentSource,
    ) -> AsyncGenerator[bytes, None]:
        renderer = AudioRenderer(job, self._settings, stats)
        render_inline = job.audio_format in _PASSTHROUGH_FORMATS and (
            job.sample_rate_hz == job.voice.sample_rate_hz
        )
        slice_samples = max(1, int(job.sample_rate_hz * _ENCODE_SLICE_S))

        async def encoded(samples: FloatSamples) -> AsyncGenerator[bytes, None]:
            # Compressed formats are encoded off the event loop, a slice at a time, so the
            # first bytes leave without waiting for a whole sentence.
            for start in range(0, len(samples), slice_samples):
                piece = samples[start : start + slice_samples]
                if render_inline:
                    data = renderer.encode(piece)
                else:
                    data = await asyncio.to_thread(renderer.encode, piece)
                if data:
                    stats.output_bytes += len(data)
                    yield data

        current: _SegmentSource | None = None
        upcoming: _SegmentSource | None = first
        try:
            for index in range(len(job.segments)):
                current, upcoming = upcoming, None
                assert current is not None
                async for chunk in current.chunks():
                    # Queue the next segment once this one's audio is here: synthesis runs
                    # several times faster than playback, and queueing it earlier would make
                    # it compete with this one for the cores.
                    if upcoming is None and index + 1 < len(job.segments):
                        upcoming = submit(index + 1)
                    async for data in encoded(renderer.push(chunk)):
                        yield data
                async for data in encoded(renderer.end_segment()):
                    yield data
                if upcoming is None and index + 1 < len(job.segments):
                    upcoming = submit(index + 1)  # this segment produced no audio
                stats.segments_done += 1
            data = renderer.finish()
            if data:
                stats.output_bytes += len(data)
                yield data
        finally:
            for source in (current, upcoming):
                if source is not None:
                    source.cancel()

    async def _cached_segment(
        self, request: SegmentRequest, job: SpeechJob, priority: Priority,
        reservation: QueueReservation | None = None,
    ) -> list[AudioChunk]:
        key = self._segment_key(job, request)
        scheduler = self._scheduler.engine(job.engine.name)

        async def synthesize() -> list[AudioChunk]:
            task = scheduler.submit(request, priority, reservation)
            try:
                return [chunk async for chunk in task.chunks()]
            finally:
                scheduler.cancel(task)

        try:
            return await get_or_synthesize(self._cache, self._flight, key, synthesize)
        finally:
            if reservation is not None:  # a hit, or another request's synthesis joined
                reservation.release()

    def synthesize_iter(self, job: SpeechJob, stats: SpeechStats | None = None) -> Iterator[bytes]:
        """Blocking, unscheduled form of :meth:`stream` (CLI): bytes per segment."""
        return synthesize_iter(self._settings, job, stats)


def plan_job(
    settings: Settings,
    catalog: EngineCatalog,
    *,
    text: str,
    model: str | None = None,
    voice: str | None = None,
    audio_format: AudioFormat | None = None,
    speed: float = 1.0,
    sample_rate_hz: int | None = None,
    options: Mapping[str, Any] | None = None,
    instructions: str | None = None,
) -> SpeechJob:
    """Validate request fields into a :class:`SpeechJob`; raises a ``VoxserveError``."""
    if not text or not text.strip():
        raise EmptyText("input is empty", param="input")
    if len(text) > settings.max_input_chars:
        raise TextTooLong(
            f"input has {len(text)} characters; the limit is {settings.max_input_chars}",
            param="input",
        )
    if not MIN_SPEED <= speed <= MAX_SPEED:
        raise InvalidRequest(f"speed must be between {MIN_SPEED} and {MAX_SPEED}", param="speed")
    if sample_rate_hz is not None and sample_rate_hz not in SUPPORTED_SAMPLE_RATES_HZ:
        rates = ", ".join(str(rate) for rate in SUPPORTED_SAMPLE_RATES_HZ)
        raise UnsupportedSampleRate(
            f"sample_rate {sample_rate_hz} is not supported (one of: {rates})",
            param="sample_rate",
        )
    engine, voice_info = catalog.resolve(model, voice)
    params = SynthesisParams(
        speed=speed, options=parse_options(engine, options or {}), instructions=instructions
    )
    segments = tuple(prepare_segments(text, settings.max_segment_chars))
    if not segments:
        raise EmptyText("input has nothing to speak", param="input")
    return SpeechJob(
        engine=engine,
        voice=voice_info,
        segments=segments,
        params=params,
        audio_format=audio_format or settings.default_response_format,
        sample_rate_hz=sample_rate_hz or voice_info.sample_rate_hz,
        input_chars=len(text),
    )


def synthesize_iter(
    settings: Settings, job: SpeechJob, stats: SpeechStats | None = None
) -> Iterator[bytes]:
    """Synthesize a job in the calling thread, segment by segment (no scheduler)."""
    stats = stats if stats is not None else SpeechStats()
    renderer = AudioRenderer(job, settings, stats)
    for text in job.segments:
        chunks = list(job.engine.synthesize(text, job.voice.id, job.params))
        data = renderer.add(chunks)
        stats.segments_done += 1
        if data:
            yield data
    yield renderer.finish()
