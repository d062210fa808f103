"""Streaming sample-rate conversion of mono float32 audio (libsoxr, through ``soxr``), and
the PyAV frame helpers the FFmpeg-based audio modules share.

libsoxr, not libswresample: the same 2 s sentence resampled 22050 -> 24000 Hz in a fresh
stream (one per request) took 0.48 ms against 1.45 ms through PyAV, whose filter is built at
the first chunk, on the event loop, between a sentence's synthesis and its first bytes."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import numpy.typing as npt
import soxr

from voxserve.types import FloatSamples


def as_mono_float32(samples: npt.ArrayLike) -> FloatSamples:
    """Return ``samples`` as a contiguous 1-D float32 array (no copy when it already is one).

    Raises ``ValueError`` for anything that is not one channel of samples.
    """
    array = np.ascontiguousarray(samples, dtype=np.float32)
    if array.ndim != 1:
        raise ValueError(f"expected 1-D mono samples, got shape {array.shape}")
    return array


class StreamResampler:
    """Converts a mono float32 stream from one sample rate to another, chunk by chunk.

    Feed chunks with :meth:`process`; :meth:`flush` returns the samples the filter still
    holds at the end of the stream. Chunk boundaries do not change the output: feeding a
    signal whole or in pieces gives the same samples. When both rates are equal, chunks pass
    through unchanged (no copy).
    """

    def __init__(self, input_rate_hz: int, output_rate_hz: int) -> None:
        if input_rate_hz <= 0 or output_rate_hz <= 0:
            raise ValueError(f"sample rates must be positive: {input_rate_hz}, {output_rate_hz}")
        self.input_rate_hz = input_rate_hz
        self.output_rate_hz = output_rate_hz
        self._resampler = self._new_resampler()

    def process(self, samples: FloatSamples) -> FloatSamples:
        """Resample the next chunk; returns what is ready now (possibly fewer samples)."""
        chunk = as_mono_float32(samples)
        if self._resampler is None:
            return chunk
        if chunk.size == 0:
            return np.empty(0, dtype=np.float32)
        return _float32(self._resampler.resample_chunk(chunk))

    def flush(self) -> FloatSamples:
        """Return the tail of the stream; the resampler then starts afresh for a new stream."""
        if self._resampler is None:
            return np.empty(0, dtype=np.float32)
        tail = _float32(self._resampler.resample_chunk(np.empty(0, np.float32), last=True))
        self._resampler = self._new_resampler()
        return tail

    def _new_resampler(self) -> soxr.ResampleStream | None:
        if self.input_rate_hz == self.output_rate_hz:
            return None
        return soxr.ResampleStream(
            self.input_rate_hz, self.output_rate_hz, 1, dtype="float32", quality="HQ"
        )


def _float32(samples: npt.NDArray[np.floating]) -> FloatSamples:
    return np.ascontiguousarray(samples.reshape(-1), dtype=np.float32)


def mono_frame(samples: FloatSamples, sample_rate_hz: int, pts: int) -> av.AudioFrame:
    """A packed-float mono frame of ``samples`` starting at sample ``pts`` (time base
    ``1 / sample_rate_hz``), as FFmpeg's filters and encoders take them."""
    frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="flt", layout="mono")
    frame.sample_rate = sample_rate_hz
    frame.time_base = Fraction(1, sample_rate_hz)
    frame.pts = pts
    return frame


def frames_samples(frames: list[av.AudioFrame]) -> FloatSamples:
    """Mono frames' samples, one float32 array."""
    if not frames:
        return np.empty(0, dtype=np.float32)
    arrays = [frame.to_ndarray().reshape(-1) for frame in frames]
    return np.concatenate(arrays).astype(np.float32, copy=False)
