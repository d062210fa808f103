"""Engine chunks -> encoded bytes for one speech stream."""

from __future__ import annotations

from voxserve.audio import SegmentJoiner, StreamResampler, create_encoder
from voxserve.service.speech_job import SpeechJob, SpeechStats
from voxserve.service.word_times import SegmentWordTimer
from voxserve.settings import Settings
from voxserve.types import AudioChunk, FloatSamples


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
        if job.plan is not None and job.plan.leading_pause_ms:
            self._joiner.set_pause(job.plan.leading_pause_ms)
        self._resampler = StreamResampler(source_rate_hz, job.sample_rate_hz)
        self._encoder = create_encoder(job.audio_format, job.sample_rate_hz)
        self._job = job
        self._words = (SegmentWordTimer(source_rate_hz, job.input_text) if job.word_times
                       else None)
        self._stats = stats
        self._stats.sample_rate_hz = job.sample_rate_hz
        self.content_type = self._encoder.content_type

    def push(self, chunk: AudioChunk) -> FloatSamples:
        """The next chunk of the current segment, joined (trimmed, faded, after the pause)
        and resampled: the samples to encode now."""
        if self._chunks_are_sentences:
            joined = self._joiner.add(chunk.samples)
            if self._words is not None:
                self._words.add(chunk, self._joiner.placement)
            return self._resampler.process(joined)
        if self._words is not None:
            self._words.add(chunk, None)
        return self._resampler.process(self._joiner.push(chunk.samples))

    def end_segment(
        self, pause_after_ms: int | None = None, index: int | None = None
    ) -> FloatSamples:
        """The current segment has ended: its held-back end, to encode now.
        ``pause_after_ms`` (an SSML break) replaces the usual pause after it. With the
        segment's ``index``, its words' output times join ``stats.words``."""
        samples = self._resampler.process(self._joiner.end_segment())
        if self._words is not None:
            self._words.place_last(self._joiner.placement)
        if self._words is not None and index is not None:
            plan = self._job.plan
            segment = plan.segments[index] if plan is not None else None
            self._stats.words.extend(self._words.end(segment, self._job.segments[index]))
        if pause_after_ms is not None:
            self._joiner.set_pause(pause_after_ms)
        return samples

    def encode(self, samples: FloatSamples) -> bytes:
        if len(samples) == 0:
            return b""
        self._stats.audio_samples += len(samples)
        return self._encoder.encode(samples)

    def finish(self) -> bytes:
        pause = self._joiner.finish_pause()
        tail = self.encode(self._resampler.process(pause)) if pause.size else b""
        tail += self.encode(self._resampler.flush())
        return tail + self._encoder.finish()
