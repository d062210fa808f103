"""The speech use case: one request's text in, its encoded audio out, for every transport.

``SpeechService.speak`` is the use case every transport (HTTP, gRPC, WebSocket, the CLI)
calls: ``admit`` gives the request its place from the raw input (before any text work),
``plan`` turns request fields into a validated :class:`SpeechJob`, ``open`` falls back to
the cache when the engine is overloaded, waits for its first audio within the request's
deadline and hands back a :class:`SpeechStream` (the first bytes, then the rest as they are
synthesized); ``store`` keeps a whole stream as a file (``return_url``). Transports call these
and nothing below them.

Concurrency: the service lives on one event loop. A job's place in its engine's queue is
held from admission (a :class:`~voxserve.scheduler.QueueReservation`) until its first
segment is queued, so requests admitted together see each other; while one segment's audio
streams the next is queued; closing a stream (the client went away) drops the queued
segment and stops the running one after its current chunk.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass
from typing import Protocol

from voxserve import metrics
from voxserve.audio import content_type_for, extension_for
from voxserve.cache import (
    CachedSegment,
    NullCache,
    SegmentCache,
    SingleFlight,
    get_or_synthesize,
    segment_cache_key,
)
from voxserve.engines.base import SegmentRequest
from voxserve.engines.catalog import EngineCatalog
from voxserve.engines.hosted import Lease
from voxserve.errors import DeadlineExceeded, NotReady, Overloaded, ShuttingDown
from voxserve.scheduler import EngineScheduler, Priority, QueueReservation, Scheduler, SegmentTask
from voxserve.scheduler.engine_scheduler import Backlog
from voxserve.service.admission import admit_early, may_use_cache_when_refused
from voxserve.service.lifecycle import ServiceState
from voxserve.service.renderer import AudioRenderer
from voxserve.service.speech_job import SpeechInput, SpeechJob, SpeechStats, plan_job
from voxserve.service.word_times import WordTimeline
from voxserve.settings import Settings
from voxserve.storage import ArtifactStore
from voxserve.text.lexicon_store import LexiconStore
from voxserve.types import AudioChunk, AudioFormat, FloatSamples

_PASSTHROUGH_FORMATS = frozenset({AudioFormat.PCM, AudioFormat.WAV})
#: Inputs up to this long are planned on the event loop (about 0.2 ms for a 50-character
#: sentence, measured: less than a round trip through a thread once the cores are busy).
_PLAN_INLINE_MAX_CHARS = 200
#: A compressed stream's first bytes are encoded from a slice this long (they leave sooner).
_ENCODE_SLICE_S = 0.25


class SpeechStream:
    """An admitted job whose audio has started: iterate it for the bytes (the first piece
    included); :attr:`stats` fills in as it goes. Closing it (or breaking out of the
    iteration) stops the synthesis."""

    def __init__(
        self, job: SpeechJob, stats: SpeechStats, first: bytes,
        rest: AsyncGenerator[bytes, None], time_to_first_audio_s: float,
    ) -> None:
        self.job = job
        self.stats = stats
        self.time_to_first_audio_s = time_to_first_audio_s
        self._first = first
        self._rest = rest

    @property
    def content_type(self) -> str:
        return content_type_for(self.job.audio_format)

    @property
    def words(self) -> WordTimeline:
        """Word times of the audio so far (seconds of the output), growing per segment."""
        return self.stats.words

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            if self._first:
                yield self._first
            async for data in self._rest:
                yield data
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        await self._rest.aclose()

    async def read_all(self) -> bytes:
        """The whole audio (synthesized to the end)."""
        return b"".join([data async for data in self])


@dataclass(frozen=True, slots=True)
class StoredAudio:
    """Where :meth:`SpeechService.store` put a stream's audio."""

    id: str
    key: str
    #: A URL the storage hands out itself (S3: presigned), else None (serve it yourself).
    url: str | None
    expires_in_s: int | None
    content_type: str
    bytes: int
    audio_s: float


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
        *,
        artifacts: ArtifactStore | None = None,
        state: ServiceState | None = None,
    ) -> None:
        self._settings = settings
        self._catalog = catalog
        self._scheduler = scheduler
        self._cache: SegmentCache = cache or NullCache()
        self._artifacts = artifacts
        self._state = state
        self._flight: SingleFlight[CachedSegment] = SingleFlight()
        self._lexicons = LexiconStore(settings.resolved_models_dir / "lexicons")

    @property
    def lexicons(self) -> LexiconStore:
        """The pronunciation lexicons requests are read with (the admin API edits them)."""
        return self._lexicons

    # --- the use case -------------------------------------------------------------------

    def plan(
        self, request: SpeechInput, priority: Priority = Priority.INTERACTIVE
    ) -> SpeechJob:
        """Validate what a client asked for into a :class:`SpeechJob`. An interactive
        request's long first sentence is cut at a clause (``first_chunk_min_words``).

        Raises ``ShuttingDown`` while the process drains, ``NotReady`` while engines load,
        else the request's own errors. Blocking (text normalization): call it off the loop
        for long inputs.
        """
        if self._state is not None:
            if self._state.draining:
                raise ShuttingDown("the server is shutting down; retry on another instance")
            if not self._state.started:
                raise NotReady("engines are still loading")
        return plan_job(
            self._settings, self._catalog, text=request.text, model=request.model,
            voice=request.voice, audio_format=request.audio_format, speed=request.speed,
            sample_rate_hz=request.sample_rate_hz, options=request.options,
            instructions=request.instructions, input_type=request.input_type,
            first_chunk_min_words=(self._settings.first_chunk_min_words
                                   if priority is Priority.INTERACTIVE else 0),
            leading_pause_ms=request.leading_pause_ms, word_times=request.word_times,
            lexicons=self._lexicons,
        )

    def admit(
        self, request: SpeechInput, priority: Priority = Priority.INTERACTIVE,
        budget_s: float | None = None,
    ) -> QueueReservation:
        """Admit a request before any text work (cheap, on the event loop): its engine's
        place, held until :meth:`open` is given the reservation. Raises ``Overloaded`` with
        the estimated wait as ``retry_after_s`` (see ``service/admission.py``)."""
        return admit_early(self._settings, self._catalog, self._scheduler, self._state,
                           request, priority, budget_s)

    async def open(
        self,
        job: SpeechJob,
        priority: Priority = Priority.INTERACTIVE,
        *,
        use_cache: bool = True,
        first_audio_timeout_s: float | None = None,
        received_at_s: float | None = None,
        transport: str = "http",
        reservation: QueueReservation | None = None,
    ) -> SpeechStream:
        """Admit ``job`` and wait for its first audio; the rest streams from the result.

        A job the engine's admission control refuses is still served when all of its audio
        is in the cache (it needs no engine); otherwise ``Overloaded``. ``DeadlineExceeded``
        when no audio came within ``first_audio_timeout_s`` (the synthesis is stopped).
        Engine failures before the first audio raise here; later ones end the stream.
        ``received_at_s`` (``time.perf_counter()`` when the request arrived) is where the
        time-to-first-audio metric starts; default: now. ``transport`` labels that metric
        (``http``, ``grpc``, ``cli``). ``reservation``: the job was admitted already
        (:meth:`admit`); it is released if the stream does not start.
        """
        started = time.perf_counter() if received_at_s is None else received_at_s
        stats = SpeechStats()
        try:
            audio = self.stream(job, stats, priority, use_cache=use_cache,
                                reservation=reservation)
        except Overloaded:
            if not (use_cache and await self.fully_cached(job)):
                raise
            audio = self.stream(job, stats, priority, use_cache=True, admit=False)
        try:
            first = await asyncio.wait_for(anext(audio, b""), first_audio_timeout_s)
        except TimeoutError:
            await audio.aclose()
            raise DeadlineExceeded(
                f"no audio within the request's timeout of {first_audio_timeout_s} s"
            ) from None
        except BaseException:
            await audio.aclose()
            raise
        waited_s = time.perf_counter() - started
        metrics.TIME_TO_FIRST_AUDIO.labels(job.engine.name, transport).observe(waited_s)
        return SpeechStream(job, stats, first, audio, waited_s)

    async def speak(
        self,
        request: SpeechInput,
        priority: Priority = Priority.INTERACTIVE,
        *,
        use_cache: bool = True,
        first_audio_timeout_s: float | None = None,
        received_at_s: float | None = None,
        transport: str = "http",
    ) -> SpeechStream:
        """The whole use case for one request, as every transport runs it: admission from the
        raw input before any text work (:meth:`admit`: a refusal costs microseconds, even in a
        burst), then the plan off the event loop (:meth:`plan`), then :meth:`open`. A refused
        request that is short enough to be all in the cache is planned anyway and served from
        the cache if it is (:meth:`open`); otherwise ``Overloaded`` with the estimated wait.
        """
        try:
            reservation: QueueReservation | None = self.admit(request, priority)
        except Overloaded:
            if not may_use_cache_when_refused(self._settings, request, use_cache):
                raise
            reservation = None  # open() serves it if all of it is cached, else refuses
        try:
            # Text normalization and segmentation take milliseconds on long inputs (off the
            # loop); a short one costs a fraction of the two thread hops (on it).
            if len(request.text) <= _PLAN_INLINE_MAX_CHARS:
                job = self.plan(request, priority)
            else:
                job = await asyncio.to_thread(self.plan, request, priority)
        except BaseException:
            if reservation is not None:
                reservation.release()
            raise
        return await self.open(
            job, priority, use_cache=use_cache, first_audio_timeout_s=first_audio_timeout_s,
            received_at_s=received_at_s, transport=transport, reservation=reservation,
        )

    async def store(self, stream: SpeechStream) -> StoredAudio:
        """Synthesize ``stream`` to the end and keep it in the artifact store."""
        if self._artifacts is None:
            raise RuntimeError("this SpeechService has no artifact store")
        data = await stream.read_all()
        file_id = uuid.uuid4().hex
        key = f"speech/{file_id}.{extension_for(stream.job.audio_format)}"
        await self._artifacts.put(key, data, stream.content_type)
        expiry_s = self._settings.storage_url_expiry_s
        url = await self._artifacts.url(key, expiry_s)
        return StoredAudio(
            id=file_id, key=key, url=url, expires_in_s=expiry_s if url else None,
            content_type=stream.content_type, bytes=len(data),
            audio_s=round(stream.stats.audio_s, 3),
        )

    # --- streaming ----------------------------------------------------------------------

    def stream(
        self,
        job: SpeechJob,
        stats: SpeechStats | None = None,
        priority: Priority = Priority.INTERACTIVE,
        *,
        use_cache: bool = True,
        admit: bool = True,
        reservation: QueueReservation | None = None,
    ) -> AsyncGenerator[bytes, None]:
        """Admit the job, then stream encoded audio as it is synthesized (the building block
        of :meth:`open`). ``admit=False`` skips admission: only for a job whose audio is all
        in the cache (:meth:`fully_cached`), which needs no engine.

        Raises ``Overloaded`` (nothing queued) when the engine's scheduler refuses the job.
        Otherwise its place in the queue is held from admission on and its first segment is
        queued now (or looked up in the cache, then queued), so concurrent requests see each
        other; iterate the result to get the audio. Segments of deterministic engines come
        from the cache when present (and are stored after synthesis) unless ``use_cache`` is
        False.
        """
        # The request holds its model version to its last byte (issue 19: hot swaps).
        lease = self._catalog.acquire(job.voice)
        if lease.voice is not job.voice:  # unloaded since planning: the active version
            job = dataclasses.replace(job, voice=lease.voice)
        try:
            if reservation is None and admit:
                reservation = self._scheduler.engine(job.engine.name).reserve(
                    priority, chars=len(job.segments[0]),
                    total_chars=sum(len(text) for text in job.segments),
                )
        except BaseException:
            lease.release()
            raise
        backlog = reservation.backlog if reservation is not None else None
        try:
            submit = self._submitter(job, priority, use_cache=use_cache)
            first = submit(0, reservation)
        except BaseException:
            if reservation is not None:
                reservation.release()
            if backlog is not None:
                backlog.close()
            lease.release()
            raise
        audio = self._stream(job, stats or SpeechStats(), submit, first, backlog, lease)
        weakref.finalize(audio, lease.release)  # also when it is closed before it started
        return audio

    async def fully_cached(self, job: SpeechJob) -> bool:
        """Whether every segment of the job is in the cache now (so it needs no engine)."""
        if not self._cacheable(job):
            return False
        for index, text in enumerate(job.segments):
            key = self._segment_key(
                job, SegmentRequest(text, job.voice.id, job.segment_params(index))
            )
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
            lexicon_version=job.lexicon_version,
        )

    def _submitter(
        self, job: SpeechJob, priority: Priority, *, use_cache: bool
    ) -> _Submit:
        scheduler = self._scheduler.engine(job.engine.name)
        cached = use_cache and self._cacheable(job)

        def submit(index: int, reservation: QueueReservation | None = None) -> _SegmentSource:
            request = SegmentRequest(job.segments[index], job.voice.id, job.segment_params(index))
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
        backlog: Backlog | None = None,
        lease: Lease | None = None,
    ) -> AsyncGenerator[bytes, None]:
        renderer = AudioRenderer(job, self._settings, stats)
        # Raw audio (pcm, wav) costs a cast to encode, at any rate (resampling is done by
        # then, in ``renderer.push``): it is encoded on the loop, not a slice at a time
        # through a thread, whose hops cost more than the work once both cores synthesize.
        render_inline = job.audio_format in _PASSTHROUGH_FORMATS
        slice_samples = max(1, int(job.sample_rate_hz * _ENCODE_SLICE_S))

        async def encoded(samples: FloatSamples) -> AsyncGenerator[bytes, None]:
            if render_inline:
                # At once: slicing raw audio would only add writes (and gRPC messages), not
                # make the first bytes leave sooner.
                data = renderer.encode(samples)
                if data:
                    stats.output_bytes += len(data)
                    yield data
                return
            # Compressed formats are encoded off the event loop: the stream's first slice
            # alone, so its first bytes leave without waiting for a whole sentence, then the
            # rest of each chunk in one call (every thread hop waits for a core once both
            # cores synthesize).
            pieces = [samples]
            if stats.output_bytes == 0 and len(samples) > slice_samples:
                pieces = [samples[:slice_samples], samples[slice_samples:]]
            for piece in pieces:
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
                async for data in encoded(renderer.end_segment(job.pause_after_ms(index), index)):
                    yield data
                if upcoming is None and index + 1 < len(job.segments):
                    upcoming = submit(index + 1)  # this segment produced no audio
                stats.segments_done += 1
                if backlog is not None:
                    backlog.done(len(job.segments[index]))
            data = renderer.finish()
            if data:
                stats.output_bytes += len(data)
                yield data
        finally:
            if backlog is not None:
                backlog.close()
            for source in (current, upcoming):
                if source is not None:
                    source.cancel()
            if lease is not None:
                lease.release()

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
