"""Streaming encoders: every format decodes completely, streams incrementally, is well-formed."""

from __future__ import annotations

import io
import struct

import av
import numpy as np
import pytest

from voxserve.audio import content_type_for, create_encoder, pcm16, pcm16_samples
from voxserve.types import SUPPORTED_SAMPLE_RATES_HZ, AudioFormat, FloatSamples

RATE_HZ = 22050
CONTAINER_FORMATS = [f for f in AudioFormat if f != AudioFormat.PCM]
#: Leading encoder delay a decoder may hand back as extra samples (no gapless metadata).
CODEC_DELAY_S = {AudioFormat.MP3: 1105 / RATE_HZ, AudioFormat.AAC: 1024 / RATE_HZ}
PADDING_TOLERANCE_S = 0.060


def sine(duration_s: float, rate_hz: int = RATE_HZ, freq_hz: float = 440.0) -> FloatSamples:
    t = np.arange(round(duration_s * rate_hz)) / rate_hz
    return (0.5 * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def encode_in_pieces(
    audio_format: AudioFormat, samples: FloatSamples, pieces: int, rate_hz: int = RATE_HZ
) -> list[bytes]:
    """Outputs of every ``encode`` call, then of ``finish``, for samples cut at random points."""
    encoder = create_encoder(audio_format, rate_hz)
    cuts = np.sort(np.random.default_rng(7).choice(np.arange(1, samples.size), pieces - 1, False))
    outputs = [encoder.encode(piece) for piece in np.split(samples, cuts)]
    return [*outputs, encoder.finish()]


def decode(data: bytes) -> tuple[FloatSamples, int]:
    """All mono samples PyAV decodes from ``data`` (16-bit ones scaled to [-1, 1]), and the rate."""
    with av.open(io.BytesIO(data)) as container:
        frames = list(container.decode(audio=0))
    samples = np.concatenate([frame.to_ndarray().reshape(-1) for frame in frames])
    scale = 1 / 32768 if samples.dtype == np.int16 else 1.0
    return (samples * scale).astype(np.float32), frames[0].sample_rate


def dominant_frequency_hz(samples: FloatSamples, rate_hz: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples))
    return float(np.argmax(spectrum) * rate_hz / samples.size)


def test_content_types() -> None:
    expected = {
        AudioFormat.PCM: "audio/pcm",
        AudioFormat.WAV: "audio/wav",
        AudioFormat.MP3: "audio/mpeg",
        AudioFormat.OPUS: "audio/ogg",
        AudioFormat.FLAC: "audio/flac",
        AudioFormat.AAC: "audio/aac",
    }
    for audio_format, content_type in expected.items():
        assert content_type_for(audio_format) == content_type
        assert create_encoder(audio_format, RATE_HZ).content_type == content_type


def test_pcm_is_clipped_scaled_rounded_s16le() -> None:
    encoder = create_encoder(AudioFormat.PCM, RATE_HZ)
    samples = np.array([0.0, 1.0, -1.0, 0.5, -0.25, 2.0, -3.0, 1e-5], dtype=np.float32)
    data = encoder.encode(samples) + encoder.finish()
    assert np.frombuffer(data, "<i2").tolist() == [0, 32767, -32767, 16384, -8192, 32767, -32767, 0]


def test_pcm16_samples_inverts_pcm16() -> None:
    """Stored PCM reads back on the scale it was written with: full scale is 1.0 again and
    quantized audio survives another round trip unchanged."""
    quantized = pcm16(np.array([-2.0, -1.0, -0.25, 0.0, 1e-5, 0.5, 1.0, 3.0], np.float32))
    samples = pcm16_samples(quantized.tobytes())
    assert samples.dtype == np.float32
    assert samples[[0, 1, -2, -1]].tolist() == [-1.0, -1.0, 1.0, 1.0]
    assert pcm16(samples).tobytes() == quantized.tobytes()
    noise = np.random.default_rng(7).uniform(-1, 1, 5000).astype(np.float32)
    stored = pcm16(noise).tobytes()
    assert pcm16(pcm16_samples(stored)).tobytes() == stored
    assert np.abs(pcm16_samples(stored) - noise).max() <= 0.5 / 32767 + 1e-7


def test_wav_header_announces_unknown_length_mono_s16() -> None:
    data = b"".join(encode_in_pieces(AudioFormat.WAV, sine(0.5), pieces=5))
    riff, riff_size, wave = struct.unpack_from("<4sI4s", data, 0)
    assert (riff, riff_size, wave) == (b"RIFF", 0xFFFFFFFF, b"WAVE")
    fmt = struct.unpack_from("<4sIHHIIHH", data, 12)
    assert fmt == (b"fmt ", 16, 1, 1, RATE_HZ, 2 * RATE_HZ, 2, 16)
    assert struct.unpack_from("<4sI", data, 36) == (b"data", 0xFFFFFFFF)
    pcm = create_encoder(AudioFormat.PCM, RATE_HZ).encode(sine(0.5))
    assert data[44:] == pcm


def test_mp3_is_plain_cbr_frames_that_decode_to_the_input() -> None:
    """MP3: MPEG-2 layer III frames from the first byte (no ID3 tag, no Xing frame), mono,
    64 kbit/s, at the input rate, decoding to the input after LAME's 1105-sample delay."""
    samples = 0.5 * sine(2.0) + 0.2 * sine(2.0, freq_hz=1250.0)
    data = b"".join(encode_in_pieces(AudioFormat.MP3, samples, 5))
    assert data[:2] == b"\xff\xf3"  # frame sync, MPEG-2, layer III, no CRC
    assert b"Xing" not in data[:1000] and b"Info" not in data[:1000] and data[-128:-125] != b"TAG"
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        assert (stream.rate, stream.channels) == (RATE_HZ, 1)
        assert {packet.size for packet in container.demux(stream) if packet.size} <= {
            64_000 * 576 // 8 // RATE_HZ, 64_000 * 576 // 8 // RATE_HZ + 1}  # CBR frames
    decoded, _ = decode(data)
    aligned = decoded[1105 : 1105 + samples.size]
    error = aligned - samples[: aligned.size]
    snr_db = 10 * np.log10(np.sum(samples[: aligned.size] ** 2) / np.sum(error**2))
    assert snr_db > 20


def test_wav_header_comes_with_first_output_even_when_empty() -> None:
    encoder = create_encoder(AudioFormat.WAV, 16000)
    first = encoder.encode(np.zeros(0, np.float32))
    assert len(first) == 44
    assert encoder.finish() == b""


@pytest.mark.parametrize("pieces", [1, 37])
@pytest.mark.parametrize("audio_format", CONTAINER_FORMATS)
def test_decodes_completely(audio_format: AudioFormat, pieces: int) -> None:
    samples = sine(3.0)
    decoded, rate_hz = decode(b"".join(encode_in_pieces(audio_format, samples, pieces)))
    duration_s = decoded.size / rate_hz
    assert duration_s >= 3.0 - 1e-3, "audio was lost"
    assert duration_s <= 3.0 + PADDING_TOLERANCE_S + CODEC_DELAY_S.get(audio_format, 0.0)
    assert dominant_frequency_hz(decoded, rate_hz) == pytest.approx(440.0, abs=2.0)


@pytest.mark.parametrize("pieces", [1, 37])
def test_pcm_round_trips_whole_or_in_pieces(pieces: int) -> None:
    samples = sine(1.0)
    decoded = np.frombuffer(b"".join(encode_in_pieces(AudioFormat.PCM, samples, pieces)), "<i2")
    np.testing.assert_allclose(decoded / 32767, samples, atol=1 / 32767)


def test_flac_on_a_non_seekable_sink_is_lossless() -> None:
    samples = sine(2.0)
    decoded, rate_hz = decode(b"".join(encode_in_pieces(AudioFormat.FLAC, samples, 37)))
    assert rate_hz == RATE_HZ
    # FLAC carries what libswresample made of the floats: x * 32768, rounded, clipped.
    expected = np.clip(np.rint(samples * 32768.0), -32768, 32767)
    np.testing.assert_array_equal(decoded * 32768, expected)


@pytest.mark.parametrize("audio_format", list(AudioFormat))
def test_streams_incrementally(audio_format: AudioFormat) -> None:
    encoder = create_encoder(audio_format, RATE_HZ)
    samples = sine(10.0)
    half_second = RATE_HZ // 2
    outputs = [
        encoder.encode(samples[i : i + half_second]) for i in range(0, samples.size, half_second)
    ]
    tail = encoder.finish()
    total = sum(map(len, outputs)) + len(tail)
    assert sum(map(len, outputs)) / total > 0.5
    assert all(outputs[2:]), "every call after the first second should emit bytes"


@pytest.mark.parametrize("rate_hz", SUPPORTED_SAMPLE_RATES_HZ)
@pytest.mark.parametrize("audio_format", CONTAINER_FORMATS)
def test_every_supported_rate(audio_format: AudioFormat, rate_hz: int) -> None:
    samples = sine(0.4, rate_hz)
    decoded, decoded_rate_hz = decode(b"".join(encode_in_pieces(audio_format, samples, 3, rate_hz)))
    if audio_format != AudioFormat.OPUS:  # FFmpeg decodes Opus at 48 kHz, whatever went in
        assert decoded_rate_hz == rate_hz
    duration_s = decoded.size / decoded_rate_hz
    assert 0.4 - 1e-3 <= duration_s <= 0.4 + PADDING_TOLERANCE_S + 2 * 1152 / rate_hz


def test_finish_without_audio_does_not_fail() -> None:
    for audio_format in AudioFormat:
        encoder = create_encoder(audio_format, RATE_HZ)
        assert isinstance(encoder.finish(), bytes)


def test_encoder_is_spent_after_finish() -> None:
    for audio_format in AudioFormat:
        encoder = create_encoder(audio_format, RATE_HZ)
        encoder.finish()
        with pytest.raises(RuntimeError):
            encoder.encode(sine(0.1))
        with pytest.raises(RuntimeError):
            encoder.finish()


def test_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        create_encoder(AudioFormat.MP3, 0)
    with pytest.raises(ValueError):
        create_encoder(AudioFormat.WAV, RATE_HZ).encode(np.zeros((2, 10), np.float32))
