"""CachedSegment: PCM quantization like the encoder, chunk boundaries, binary round trip."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest

from voxserve.audio import create_encoder
from voxserve.cache import CachedSegment, CorruptCacheValue
from voxserve.types import AudioChunk, AudioFormat

RATE_HZ = 16000


def chunks(*lengths: int, seed: int = 0) -> list[AudioChunk]:
    rng = np.random.default_rng(seed)
    return [
        AudioChunk(rng.uniform(-1.2, 1.2, n).astype(np.float32), RATE_HZ) for n in lengths
    ]


def test_chunks_round_trip_with_boundaries_and_rate() -> None:
    original = chunks(100, 0, 37)
    value = CachedSegment.from_chunks(original)
    assert value.sample_rate_hz == RATE_HZ
    assert value.chunk_lengths == (100, 0, 37)
    restored = value.to_chunks()
    assert [len(c.samples) for c in restored] == [100, 0, 37]
    for before, after in zip(original, restored, strict=True):
        assert after.sample_rate_hz == RATE_HZ
        assert after.samples.dtype == np.float32
        expected = np.clip(before.samples, -1.0, 1.0)
        assert np.max(np.abs(after.samples - expected), initial=0.0) <= 0.5 / 32767 + 1e-7


def test_quantization_matches_the_pcm_encoder_and_is_idempotent() -> None:
    original = chunks(500, 300, seed=1)
    value = CachedSegment.from_chunks(original)
    encoder = create_encoder(AudioFormat.PCM, RATE_HZ)
    samples = np.concatenate([c.samples for c in original])
    assert value.pcm_s16le == encoder.encode(samples)
    assert CachedSegment.from_chunks(value.to_chunks()) == value


def test_binary_round_trip() -> None:
    value = CachedSegment.from_chunks(chunks(1000, 1, 250, seed=2))
    data = value.encode()
    assert len(data) < len(value.pcm_s16le) + 64
    assert CachedSegment.decode(data) == value
    empty = CachedSegment.from_chunks([])
    assert CachedSegment.decode(empty.encode()) == empty
    assert empty.to_chunks() == []


def test_chunks_of_different_rates_are_refused() -> None:
    with pytest.raises(ValueError, match="sample rates"):
        CachedSegment.from_chunks([*chunks(10), AudioChunk(np.zeros(5, np.float32), 22050)])


def test_inconsistent_value_is_refused() -> None:
    with pytest.raises(ValueError, match="add up"):
        CachedSegment(b"\0" * 10, RATE_HZ, (4,))


def _flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x40]) + data[index + 1 :]


def _forge(count: int, rest: bytes = b"") -> bytes:
    """A header with a valid checksum (so the later checks are reached)."""
    prefix = struct.pack("<4sB3xII", b"VXSG", 1, RATE_HZ, count)
    return prefix + struct.pack("<I", zlib.crc32(rest, zlib.crc32(prefix))) + rest


GOOD = CachedSegment.from_chunks(chunks(300, 200, seed=3)).encode()


@pytest.mark.parametrize(
    "data",
    [
        b"",
        GOOD[:10],
        GOOD[:25],
        GOOD[:-1],
        GOOD + b"\0\0",
        _flip(GOOD, 0),
        _flip(GOOD, 4),
        _flip(GOOD, 9),
        _flip(GOOD, 21),
        _flip(GOOD, len(GOOD) - 3),
        _forge(1_000_000),
        _forge(1, struct.pack("<I", 5) + b"\0\0"),
    ],
    ids=["empty", "short-header", "short-table", "truncated", "trailing", "magic",
         "version", "rate", "table", "pcm", "huge-count", "lengths"],
)
def test_corrupt_bytes_are_rejected(data: bytes) -> None:
    with pytest.raises(CorruptCacheValue):
        CachedSegment.decode(data)
