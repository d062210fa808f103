"""Streaming resampler: keeps pitch, gives the right length, ignores chunk boundaries."""

from __future__ import annotations

import numpy as np
import pytest

from voxserve.audio import StreamResampler, as_mono_float32
from voxserve.types import FloatSamples

RATE_PAIRS = [(22050, 16000), (22050, 48000), (24000, 22050), (16000, 44100)]


def sine(rate_hz: int, duration_s: float = 1.0, freq_hz: float = 440.0) -> FloatSamples:
    t = np.arange(round(duration_s * rate_hz)) / rate_hz
    return (0.5 * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def resample_in_pieces(
    resampler: StreamResampler, samples: FloatSamples, pieces: int
) -> FloatSamples:
    cuts = np.sort(np.random.default_rng(3).choice(np.arange(1, samples.size), pieces - 1, False))
    parts = [resampler.process(piece) for piece in np.split(samples, cuts)]
    return np.concatenate([*parts, resampler.flush()])


@pytest.mark.parametrize(("rate_in", "rate_out"), RATE_PAIRS)
def test_keeps_frequency(rate_in: int, rate_out: int) -> None:
    output = resample_in_pieces(StreamResampler(rate_in, rate_out), sine(rate_in), pieces=1)
    peak_hz = np.argmax(np.abs(np.fft.rfft(output))) * rate_out / output.size
    assert peak_hz == pytest.approx(440.0, abs=2.0)
    assert output.dtype == np.float32
    assert 0.45 < np.max(np.abs(output)) < 0.55


@pytest.mark.parametrize("pieces", [1, 37])
@pytest.mark.parametrize(("rate_in", "rate_out"), RATE_PAIRS)
def test_length_follows_ratio(rate_in: int, rate_out: int, pieces: int) -> None:
    samples = sine(rate_in, duration_s=1.3)
    output = resample_in_pieces(StreamResampler(rate_in, rate_out), samples, pieces)
    assert abs(output.size - samples.size * rate_out / rate_in) <= 3


@pytest.mark.parametrize(("rate_in", "rate_out"), RATE_PAIRS)
def test_chunk_boundaries_do_not_change_the_output(rate_in: int, rate_out: int) -> None:
    samples = sine(rate_in, duration_s=0.7)
    whole = resample_in_pieces(StreamResampler(rate_in, rate_out), samples, pieces=1)
    pieces = resample_in_pieces(StreamResampler(rate_in, rate_out), samples, pieces=37)
    assert whole.size == pieces.size
    np.testing.assert_allclose(pieces, whole, atol=1e-5)


def test_flush_starts_a_fresh_stream() -> None:
    resampler = StreamResampler(22050, 16000)
    first = resample_in_pieces(resampler, sine(22050), pieces=5)
    second = resample_in_pieces(resampler, sine(22050), pieces=5)
    np.testing.assert_allclose(second, first, atol=1e-5)


def test_equal_rates_pass_through() -> None:
    resampler = StreamResampler(24000, 24000)
    samples = sine(24000, duration_s=0.1)
    assert resampler.process(samples) is samples
    assert resampler.flush().size == 0


def test_empty_chunks_are_fine() -> None:
    resampler = StreamResampler(22050, 48000)
    assert resampler.process(np.zeros(0, np.float32)).size == 0
    assert resampler.flush().size == 0


def test_rejects_bad_rates_and_shapes() -> None:
    with pytest.raises(ValueError):
        StreamResampler(0, 16000)
    with pytest.raises(ValueError):
        StreamResampler(22050, 16000).process(np.zeros((2, 5), np.float32))


def test_as_mono_float32_converts_without_needless_copies() -> None:
    floats = np.zeros(4, np.float32)
    assert as_mono_float32(floats) is floats
    converted = as_mono_float32(np.array([0.5, -0.5]))  # float64 in
    assert converted.dtype == np.float32
    assert converted.tolist() == [0.5, -0.5]
