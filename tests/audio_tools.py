"""Test helpers: decode what the server sends and measure it."""

from __future__ import annotations

import io

import av
import numpy as np
import numpy.typing as npt

Samples = npt.NDArray[np.float32]


def decode_audio(data: bytes, *, audio_format: str | None = None) -> tuple[Samples, int]:
    """Decode a whole encoded stream (any container PyAV/FFmpeg reads) to mono float32."""
    if audio_format == "pcm":
        raise ValueError("raw pcm has no container; use pcm_to_float")
    with av.open(io.BytesIO(data), mode="r", format=audio_format) as container:
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate
        to_float = av.AudioResampler(format="flt", layout="mono", rate=rate)
        frames = [
            converted.to_ndarray().reshape(-1)
            for frame in container.decode(stream)
            for converted in to_float.resample(frame)
        ]
        frames += [converted.to_ndarray().reshape(-1) for converted in to_float.resample(None)]
    if not frames:
        return np.empty(0, np.float32), rate
    return np.concatenate(frames).astype(np.float32), rate


def pcm_to_float(data: bytes) -> Samples:
    return (np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0).astype(np.float32)


def max_step(samples: Samples) -> float:
    """Largest jump between neighbouring samples (a click shows up as a big one)."""
    return float(np.max(np.abs(np.diff(samples)))) if len(samples) > 1 else 0.0


def longest_quiet_s(samples: Samples, rate_hz: int, threshold: float = 0.002) -> float:
    """Length in seconds of the longest run of samples with |x| <= ``threshold``, not
    counting a run at either end."""
    loud = np.flatnonzero(np.abs(samples) > threshold)
    if loud.size < 2:
        return 0.0
    return float(np.max(np.diff(loud)) - 1) / rate_hz
