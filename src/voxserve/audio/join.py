"""Click-free joining of per-sentence audio into one stream with even pauses."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from voxserve.audio.resample import as_mono_float32
from voxserve.types import FloatSamples


@dataclass(frozen=True, slots=True)
class Placement:
    """Where one segment went in the joined output (word timing): its raw sample ``i``,
    for ``first <= i < end`` (what the trim kept), is output sample ``offset + i``
    (``offset`` counts the pauses before it and what the trim dropped at its start)."""

    offset: int
    first: int
    end: int


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
    After each segment, :attr:`placement` says where its raw samples went in the output
    (None for a dropped one); :attr:`output_samples` counts everything emitted so far.

    A segment may also arrive in chunks, as a streaming engine yields it: :meth:`push` each
    chunk, then :meth:`end_segment`. The output is the same as :meth:`add` of the whole
    segment; what may still be trimmed or faded out (the quiet after the last loud sample
    plus ``n(fade_ms)``) is held back until more audio or the segment's end says what it is.

    So with trimming, two segments' audible parts are ``2 * n(trim_margin_ms) +
    n(silence_between_ms)`` samples apart whenever each had at least the margin of
    near-silence on the joining side and ``fade_ms <= trim_margin_ms`` (the fade then only
    touches the margin), however long its own pause was.
    """

    #: samples of the current segment not emitted yet, from segment index ``_held_start``
    _held: FloatSamples
    _held_start: int
    #: samples of the current segment pushed so far
    _seen: int
    #: first and last samples above the threshold (segment indexes)
    _first: int | None
    _last: int
    #: the current segment's first samples went out (faded in)
    _emitting: bool

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
        self._pause_samples: int | None = None
        self._leading_samples = 0
        #: samples emitted so far (all calls' results together)
        self.output_samples = 0
        #: where the last ended segment went (None: it emitted nothing)
        self.placement: Placement | None = None
        self._segment_offset = 0
        self._segment_first = 0
        self._start_segment()

    def add(self, samples: FloatSamples) -> FloatSamples:
        """A whole segment -> float32 samples to emit now (see the class doc)."""
        head = self.push(samples)
        tail = self.end_segment()
        return tail if head.size == 0 else np.concatenate([head, tail])

    def push(self, samples: FloatSamples) -> FloatSamples:
        """The next chunk of the current segment -> the samples that may be emitted now."""
        chunk = np.clip(as_mono_float32(samples), -1.0, 1.0)  # a copy: safe to fade in place
        if chunk.size == 0:
            return _EMPTY
        chunk_start = self._seen
        self._seen += chunk.size
        loud = (np.abs(chunk) > self.trim_threshold if self.trim_silence
                else np.ones(chunk.size, dtype=bool))
        if loud.any():
            if self._first is None:
                self._first = chunk_start + int(np.argmax(loud))
            self._last = chunk_start + chunk.size - 1 - int(np.argmax(loud[::-1]))
        self._held = np.concatenate([self._held, chunk]) if self._held.size else chunk
        margin = self.trim_margin_samples
        if self._first is None:  # quiet so far: keep what may become the leading margin
            keep = min(self._held.size, margin)
            self._held = self._held[self._held.size - keep :]
            self._held_start = self._seen - keep
            return _EMPTY
        if not self._emitting:  # drop the leading quiet before the margin
            self._take(max(0, self._first - margin))
        known_end = min(self._seen, self._last + 1 + margin)
        if not self._emitting and known_end - self._held_start < 2 * self.fade_samples:
            return _EMPTY  # too short yet to know the fade-in's length
        first = self._held_start
        out = self._take(known_end - self.fade_samples)  # the fade-out's samples stay held
        if out.size == 0 or self._emitting:
            self.output_samples += out.size
            return out
        self._emitting = True
        _fade_in(out, self.fade_samples)
        return self._after_pause(out, first)

    def end_segment(self) -> FloatSamples:
        """The current segment is complete: the rest of it (trimmed, faded out)."""
        rest = _EMPTY
        emitting = self._emitting
        if self._first is not None:
            first = self._held_start
            rest = self._take(min(self._seen, self._last + 1 + self.trim_margin_samples))
            if self._emitting:
                _fade_out(rest, min(self.fade_samples, rest.size))
                self.output_samples += rest.size
            elif rest.size:
                length = min(self.fade_samples, (rest.size + 1) // 2)
                _fade_in(rest, length)
                _fade_out(rest, length)
                rest = self._after_pause(rest, first)
                emitting = True
        self.placement = (
            Placement(self._segment_offset, self._segment_first, self._held_start)
            if emitting else None
        )
        self._start_segment()
        return rest

    def set_pause(self, ms: float) -> None:
        """The next gap between two segments' audible parts is ``ms`` long (once), instead of
        the usual pause: an SSML break. The trim margins count towards it, so two segments
        with at least the margin of near-silence on the joining side are exactly
        ``n(ms)`` samples apart (the pause itself is ``n(ms) - 2 * n(trim_margin_ms)`` zeros,
        at least 0). Before any audio it is the leading silence; :meth:`finish_pause` gives it
        after the last segment."""
        if ms < 0:
            raise ValueError("a pause must not be negative")
        if self._emitted_any:
            self._pause_samples = max(0, self._samples(ms) - 2 * self._margin())
        else:
            self._leading_samples += max(0, self._samples(ms) - self._margin())

    def finish_pause(self) -> FloatSamples:
        """Zeros for a pause set after the last segment (trailing silence), once."""
        if self._pause_samples is None:
            return _EMPTY
        count = self._pause_samples + self._margin()
        self._pause_samples = None
        self.output_samples += count
        return np.zeros(count, np.float32)

    def _margin(self) -> int:
        return self.trim_margin_samples if self.trim_silence else 0

    def _start_segment(self) -> None:
        self._held = _EMPTY
        self._held_start = 0
        self._seen = 0
        self._first = None
        self._last = -1
        self._emitting = False

    def _take(self, end: int) -> FloatSamples:
        """Remove and return the held samples before segment index ``end``."""
        count = max(0, min(end - self._held_start, self._held.size))
        taken, self._held = self._held[:count], self._held[count:]
        self._held_start += count
        return taken

    def _after_pause(self, samples: FloatSamples, first: int) -> FloatSamples:
        """A segment's first samples (from its raw sample ``first``), after the pause
        between segments."""
        len_before = samples.size
        if self._emitted_any:
            pause = self.silence_samples if self._pause_samples is None else self._pause_samples
            self._pause_samples = None
            samples = np.concatenate([np.zeros(pause, np.float32), samples])
        elif self._leading_samples:
            samples = np.concatenate([np.zeros(self._leading_samples, np.float32), samples])
        self._emitted_any = True
        pause = samples.size - len_before
        self._segment_first = first
        self._segment_offset = self.output_samples + pause - first
        self.output_samples += samples.size
        return samples

    def _samples(self, ms: float) -> int:
        return round(ms * self.sample_rate_hz / 1000)


_EMPTY: FloatSamples = np.empty(0, dtype=np.float32)


def _ramp(length: int) -> FloatSamples:
    ramp: FloatSamples = (0.5 - 0.5 * np.cos(np.pi * np.arange(length) / length)).astype(
        np.float32)
    return ramp


def _fade_in(samples: FloatSamples, length: int) -> None:
    """Raised-cosine fade-in over the first ``length`` samples, in place."""
    if length > 0:
        samples[:length] *= _ramp(length)


def _fade_out(samples: FloatSamples, length: int) -> None:
    """Raised-cosine fade-out over the last ``length`` samples, in place."""
    if length > 0:
        samples[-length:] *= _ramp(length)[::-1]
