"""Pitch-preserving tempo change (FFmpeg atempo) for engines without a speed control."""

from __future__ import annotations

import math

import numpy as np
import pytest

from voxserve.audio.tempo import TimeStretcher, atempo_stages

RATE = 24_000


def _tone(hz: float, seconds: float) -> np.ndarray:
    return (0.5 * np.sin(2 * np.pi * hz * np.arange(round(seconds * RATE)) / RATE)).astype(
        np.float32)


def _peak_hz(samples: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size)))
    return float(np.argmax(spectrum) * RATE / samples.size)


def _stretch(samples: np.ndarray, factor: float, chunk: int) -> tuple[np.ndarray, int]:
    stretcher = TimeStretcher(RATE, factor)
    pieces = [stretcher.process(samples[i:i + chunk]) for i in range(0, samples.size, chunk)]
    ready_before_flush = sum(piece.size for piece in pieces)
    pieces.append(stretcher.flush())
    return np.concatenate(pieces), ready_before_flush


@pytest.mark.parametrize("factor", [0.25, 0.5, 0.8, 1.25, 2.0, 4.0])
def test_duration_scales_and_pitch_stays(factor: float) -> None:
    tone = _tone(440, 2.0)
    stretched, ready = _stretch(tone, factor, chunk=2_048)
    assert stretched.dtype == np.float32
    # atempo emits up to about one overlap window (~10 ms) more at the end
    assert stretched.size / RATE == pytest.approx(2.0 / factor, rel=0.01, abs=0.015)
    assert ready > stretched.size / 2  # it streams: most comes out before the end
    assert _peak_hz(stretched) == pytest.approx(440, abs=3)


def test_chunk_size_does_not_change_the_length() -> None:
    tone = _tone(300, 1.5)
    whole, _ = _stretch(tone, 1.5, chunk=tone.size)
    chunked, _ = _stretch(tone, 1.5, chunk=777)
    assert abs(whole.size - chunked.size) <= 1


def test_stages_stay_within_one_atempo_range() -> None:
    for factor in (0.25, 0.3, 0.5, 0.9, 1.0, 1.7, 2.0, 3.0, 4.0):
        stages = atempo_stages(factor)
        assert all(0.5 - 1e-9 <= stage <= 2.0 + 1e-9 for stage in stages)
        assert math.prod(stages) == pytest.approx(factor)
    assert len(atempo_stages(2.0)) == 1 and len(atempo_stages(0.25)) == 2
    for bad in (0.1, 5.0):
        with pytest.raises(ValueError, match="tempo factor"):
            TimeStretcher(RATE, bad)


def test_flushed_stretcher_refuses_more_input() -> None:
    stretcher = TimeStretcher(RATE, 2.0)
    stretcher.process(_tone(200, 0.2))
    stretcher.flush()
    assert stretcher.flush().size == 0
    with pytest.raises(RuntimeError):
        stretcher.process(_tone(200, 0.1))
