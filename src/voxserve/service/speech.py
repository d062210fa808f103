"""Speech synthesis for one request: validate, segment, synthesize, join, resample, encode.

``SpeechService.plan`` turns request fields into a validated :class:`SpeechJob` (raising
domain errors); ``stream`` yields encoded bytes segment by segment, so the first bytes leave
as soon as the first sentence is synthesized; ``synthesize_to_bytes`` is the blocking form
used by the CLI.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from voxserve.audio import SegmentJoiner, StreamResampler, create_encoder
from voxserve.engines.base import Engine, SynthesisParams, parse_options
from voxserve.errors import EmptyText, InvalidRequest, TextTooLong, UnsupportedSampleRate
from voxserve.service.catalog import EngineCatalog
from voxserve.settings import Settings
from voxserve.text import prepare_segments
from voxserve.types import SUPPORTED_SAMPLE_RATES_HZ, AudioChunk, AudioFormat, VoiceInfo

MIN_SPEED = 0.25
MAX_SPEED = 4.0
_PASSTHROUGH_FORMATS = frozenset({AudioFormat.PCM, AudioFormat.WAV})


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
    """Engine chunks -> encoded bytes: click-free joins, resampling, incremental encoding."""

    def __init__(self, job: SpeechJob, settings: Settings, stats: SpeechStats) -> None:
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
        parts = []
        for chunk in chunks:
            joined = self._joiner.add(chunk.samples)
            parts.append(self._encode(self._resampler.process(joined)))
        return b"".join(parts)

    def finish(self) -> bytes:
        tail = self._encode(self._resampler.flush())
        return tail + self._encoder.finish()

    def _encode(self, samples: np.ndarray) -> bytes:
        if len(samples) == 0:
            return b""
        self._stats.audio_samples += len(samples)
        return self._encoder.encode(samples)


class SpeechService:
    """Runs speech jobs on the catalog's engines, one thread pool per engine."""

    def __init__(self, settings: Settings, catalog: EngineCatalog) -> None:
        self._settings = settings
        self._catalog = catalog
        self._pools: dict[str, ThreadPoolExecutor] = {}

    def close(self) -> None:
        for pool in self._pools.values():
            pool.shutdown(wait=False, cancel_futures=True)

    # --- validation ---------------------------------------------------------------------

    def plan(
        self,
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
        """Validate a request and split its text; raises a ``VoxserveError`` subclass."""
        if not text or not text.strip():
            raise EmptyText("input is empty", param="input")
        if len(text) > self._settings.max_input_chars:
            raise TextTooLong(
                f"input has {len(text)} characters; the limit is "
                f"{self._settings.max_input_chars}",
                param="input",
            )
        if not MIN_SPEED <= speed <= MAX_SPEED:
            raise InvalidRequest(
                f"speed must be between {MIN_SPEED} and {MAX_SPEED}", param="speed"
            )
        if sample_rate_hz is not None and sample_rate_hz not in SUPPORTED_SAMPLE_RATES_HZ:
            rates = ", ".join(str(rate) for rate in SUPPORTED_SAMPLE_RATES_HZ)
            raise UnsupportedSampleRate(
                f"sample_rate {sample_rate_hz} is not supported (one of: {rates})",
                param="sample_rate",
            )
        engine, voice_info = self._catalog.resolve(model, voice)
        params = SynthesisParams(
            speed=speed, options=parse_options(engine, options or {}), instructions=instructions
        )
        segments = tuple(prepare_segments(text, self._settings.max_segment_chars))
        if not segments:
            raise EmptyText("input has nothing to speak", param="input")
        return SpeechJob(
            engine=engine,
            voice=voice_info,
            segments=segments,
            params=params,
            audio_format=audio_format or self._settings.default_response_format,
            sample_rate_hz=sample_rate_hz or voice_info.sample_rate_hz,
            input_chars=len(text),
        )

    # --- synthesis ----------------------------------------------------------------------

    async def stream(
        self, job: SpeechJob, stats: SpeechStats | None = None
    ) -> AsyncIterator[bytes]:
        """Encoded audio, yielded per segment; the next segment is synthesized meanwhile.

        If the consumer stops (client gone), the segment not yet started is cancelled.
        """
        stats = stats if stats is not None else SpeechStats()
        renderer = AudioRenderer(job, self._settings, stats)
        render_inline = job.audio_format in _PASSTHROUGH_FORMATS and (
            job.sample_rate_hz == job.voice.sample_rate_hz
        )
        loop = asyncio.get_running_loop()
        pool = self._pool(job.engine)
        pending: asyncio.Future[list[AudioChunk]] | None = loop.run_in_executor(
            pool, self._synthesize_segment, job, 0
        )
        try:
            for index in range(len(job.segments)):
                assert pending is not None
                chunks = await pending
                pending = None
                if index + 1 < len(job.segments):
                    pending = loop.run_in_executor(
                        pool, self._synthesize_segment, job, index + 1
                    )
                if render_inline:
                    data = renderer.add(chunks)
                else:
                    data = await asyncio.to_thread(renderer.add, chunks)
                stats.segments_done += 1
                if data:
                    stats.output_bytes += len(data)
                    yield data
            data = renderer.finish()
            if data:
                stats.output_bytes += len(data)
                yield data
        finally:
            if pending is not None:
                pending.cancel()

    def synthesize_iter(self, job: SpeechJob, stats: SpeechStats | None = None) -> Iterator[bytes]:
        """Blocking form of :meth:`stream` (CLI): encoded bytes per segment."""
        stats = stats if stats is not None else SpeechStats()
        renderer = AudioRenderer(job, self._settings, stats)
        for index in range(len(job.segments)):
            data = renderer.add(self._synthesize_segment(job, index))
            stats.segments_done += 1
            if data:
                yield data
        yield renderer.finish()

    @staticmethod
    def _synthesize_segment(job: SpeechJob, index: int) -> list[AudioChunk]:
        return list(job.engine.synthesize(job.segments[index], job.voice.id, job.params))

    def _pool(self, engine: Engine) -> ThreadPoolExecutor:
        pool = self._pools.get(engine.name)
        if pool is None:
            pool = ThreadPoolExecutor(
                max_workers=self._settings.engine_workers,
                thread_name_prefix=f"engine-{engine.name}",
            )
            self._pools[engine.name] = pool
        return pool

