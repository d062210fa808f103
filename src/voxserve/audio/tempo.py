"""Streaming tempo change that keeps the pitch, for engines without a speed control of
their own (Maya1): FFmpeg's ``atempo`` filter (WSOLA) through PyAV's filter graph.

``atempo`` changes the tempo by 0.5x to 2x per instance, so wider factors run as a chain
(0.25 = 0.5 x 0.5; 4 = 2 x 2). Like :class:`~voxserve.audio.resample.StreamResampler`,
chunks go in with :meth:`TimeStretcher.process` and the filter's delay comes out with
:meth:`TimeStretcher.flush`.
"""

from __future__ import annotations

import math
from fractions import Fraction

import av
import av.filter
import numpy as np

from voxserve.audio.resample import as_mono_float32, frames_samples, mono_frame
from voxserve.types import FloatSamples

#: Tempo factors a stretcher accepts (the API's ``speed`` range).
MIN_FACTOR = 0.25
MAX_FACTOR = 4.0
#: One ``atempo`` instance's best range.
_STAGE_MIN, _STAGE_MAX = 0.5, 2.0


def atempo_stages(factor: float) -> list[float]:
    """``factor`` as a product of ``atempo`` factors within [0.5, 2] (fewest stages)."""
    if not MIN_FACTOR <= factor <= MAX_FACTOR:
        raise ValueError(f"tempo factor must be between {MIN_FACTOR} and {MAX_FACTOR}: {factor}")
    bound = _STAGE_MAX if factor > 1 else _STAGE_MIN
    count = max(1, math.ceil(round(math.log(factor) / math.log(bound), 9)))
    return [factor ** (1 / count)] * count


class TimeStretcher:
    """Plays a mono float32 stream ``factor`` times as fast (2.0: half the duration) at the
    same pitch, chunk by chunk."""

    def __init__(self, sample_rate_hz: int, factor: float) -> None:
        if sample_rate_hz <= 0:
            raise ValueError(f"sample rate must be positive: {sample_rate_hz}")
        self.sample_rate_hz = sample_rate_hz
        self.factor = factor
        self._samples_in = 0
        self._graph = av.filter.Graph()
        source = self._graph.add_abuffer(format="flt", sample_rate=sample_rate_hz,
                                         layout="mono", time_base=Fraction(1, sample_rate_hz))
        node = source
        for stage in atempo_stages(factor):
            stretch = self._graph.add("atempo", f"{stage:.9f}")
            node.link_to(stretch)
            node = stretch
        sink = self._graph.add("abuffersink")
        node.link_to(sink)
        self._graph.configure()
        self._finished = False

    def process(self, samples: FloatSamples) -> FloatSamples:
        """Stretch the next chunk; returns what is ready now (the filter holds some back)."""
        if self._finished:
            raise RuntimeError("stretcher already flushed")
        chunk = as_mono_float32(samples)
        if chunk.size == 0:
            return np.empty(0, dtype=np.float32)
        self._graph.push(mono_frame(chunk, self.sample_rate_hz, self._samples_in))
        self._samples_in += chunk.size
        return self._pull()

    def flush(self) -> FloatSamples:
        """The rest of the stream, once the input has ended."""
        if self._finished:
            return np.empty(0, dtype=np.float32)
        self._finished = True
        self._graph.push(None)
        return self._pull()

    def _pull(self) -> FloatSamples:
        frames: list[av.AudioFrame] = []
        while True:
            try:
                frame = self._graph.pull()
            except (av.error.BlockingIOError, av.error.EOFError):
                break
            assert isinstance(frame, av.AudioFrame)
            frames.append(frame)
        return frames_samples(frames)
