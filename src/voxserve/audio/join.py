"""Click-free joining of per-sentence audio into one stream with even pauses."""

from __future__ import annotations

import numpy as np

from voxserve.audio.resample import as_mono_float32
from voxserve.types import FloatSamples


class SegmentJoiner:
    """Turns a sequence of synthesized segments (sentences) into one continuous stream.

    With ``n(ms) = round(ms * sample_rate_hz / 1000)`` samples, each call to :meth:`add`:

    1. clips the segment to [-1, 1];
    2. when ``trim_silence``, keeps only ``[first - n(trim_margin_ms), last + n(trim_margin_ms)]``
       (clamped to the segment), where ``first``/``last`` are the first/last samples with
       ``|x| > trim_threshold``; a segment with no such sample is dropped entirely;
    3. fades the first and last ``min(n(fade_ms), ceil(len / 2))`` samples in and out with
       a raised cosine that starts (and ends) at exactly 0;
    4. puts exactly ``n(silence_between_ms)`` zero samples in front, except before the
       first segment that emits anything.

    Empty segments (or segments dropped in step 2) emit nothing and do not count as segments.
    So with trimming, two segments' audible parts are ``2 * n(trim_margin_ms) +
    n(silence_between_ms)`` samples apart whenever each had at least the margin of
    near-silence on the joining side and ``fade_ms <= trim_margin_ms`` (the fade then only
    touches the margin), however long its own pause was.
    """

    def __init__(
        self,
        sample_rate_hz: int,
        silence_between_ms: float = 200.0,
        fade_ms: float = 5.0,
        trim_silence: bool = True,
        trim_threshold: float = 0.002,
        trim_margin_ms: float = 10.0,
    ) -> None:
        if sample_rate_hz <= 0:
            raise ValueError(f"sample rate must be positive, got {sample_rate_hz}")
        if min(silence_between_ms, fade_ms, trim_threshold, trim_margin_ms) < 0:
            raise ValueError("durations and threshold must not be negative")
        self.sample_rate_hz = sample_rate_hz
        self.trim_silence = trim_silence
        self.trim_threshold = trim_threshold
        self.silence_samples = self._samples(silence_between_ms)
        self.fade_samples = self._samples(fade_ms)
        self.trim_margin_samples = self._samples(trim_margin_ms)
        self._emitted_any = False

    def add(self, samples: FloatSamples) -> FloatSamples:
        """Samples of the next segment -> float32 samples to emit now (see the class doc)."""
        segment = np.clip(as_mono_float32(samples), -1.0, 1.0)  # a copy: safe to fade in place
        if self.trim_silence:
            segment = self._trimmed(segment)
        if segment.size == 0:
            return segment
        _fade_ends(segment, min(self.fade_samples, (segment.size + 1) // 2))
        if self._emitted_any:
            segment = np.concatenate([np.zeros(self.silence_samples, np.float32), segment])
        self._emitted_any = True
        return segment

    def _samples(self, ms: float) -> int:
        return round(ms * self.sample_rate_hz / 1000)

    def _trimmed(self, segment: FloatSamples) -> FloatSamples:
        loud = np.abs(segment) > self.trim_threshold
        if not loud.any():
            return segment[:0]
        first = int(np.argmax(loud))
        last = segment.size - 1 - int(np.argmax(loud[::-1]))
        margin = self.trim_margin_samples
        return segment[max(0, first - margin) : last + 1 + margin]


def _fade_ends(segment: FloatSamples, length: int) -> None:
    """Raised-cosine fade-in over the first and fade-out over the last ``length`` samples."""
    if length == 0:
        return
    ramp = (0.5 - 0.5 * np.cos(np.pi * np.arange(length) / length)).astype(np.float32)
    segment[:length] *= ramp
    segment[-length:] *= ramp[::-1]
