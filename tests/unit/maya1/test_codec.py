"""SNAC loading and the streaming window decoder versus the whole-segment decode."""

from __future__ import annotations

import itertools
import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.maya1.tiny_models import build_snac
from voxserve.engines.maya1.codec import (
    SnacCodec,
    StreamingDecoder,
    decode_whole,
    read_snac_config,
)
from voxserve.engines.maya1.frames import Frame
from voxserve.errors import EngineLoadError
from voxserve.types import FloatSamples

FRAME_SAMPLES = 2048


def frame_local_decode(frames: Sequence[Frame]) -> FloatSamples:
    """A deterministic decoder whose frames do not depend on their neighbours."""
    out = []
    for frame in frames:
        t = np.arange(FRAME_SAMPLES, dtype=np.float32)
        out.append(np.sin(t * (1 + frame[0] % 7) / 100 + frame[1]) * (frame[2] / 4096))
    return np.concatenate(out).astype(np.float32)


def _frames(count: int, seed: int = 0) -> list[Frame]:
    rng = np.random.default_rng(seed)
    return [tuple(int(c) for c in rng.integers(0, 4096, 7)) for _ in range(count)]  # type: ignore[misc]


def _stream(decode: object, frames: Sequence[Frame]) -> list[FloatSamples]:
    decoder = StreamingDecoder(decode, FRAME_SAMPLES)  # type: ignore[arg-type]
    chunks = [c for c in (decoder.push(f) for f in frames) if c is not None]
    tail = decoder.flush()
    return chunks + ([tail] if tail is not None else [])


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 14), st.integers(0, 1000))
def test_streaming_equals_whole_decode(count: int, seed: int) -> None:
    frames = _frames(count, seed)
    streamed = np.concatenate(_stream(frame_local_decode, frames))
    whole = decode_whole(frame_local_decode, frames, FRAME_SAMPLES)
    assert len(whole) == FRAME_SAMPLES * max(count - 1, 1)
    np.testing.assert_array_equal(streamed, whole)


def test_chunks_come_one_frame_per_frame_after_the_third() -> None:
    decoder = StreamingDecoder(frame_local_decode, FRAME_SAMPLES)
    sizes = [None if (c := decoder.push(f)) is None else len(c) for f in _frames(6)]
    assert sizes == [None, None, None, 2048, 2048, 2048]
    tail = decoder.flush()
    assert tail is not None and len(tail) == 2 * 2048  # the last two frames are not lost
    assert decoder.flush() is None


def test_seams_are_crossfaded_from_the_previous_window() -> None:
    calls = iter(range(100))

    def offset_decode(frames: Sequence[Frame]) -> FloatSamples:
        # Each decode has its own DC offset: without the crossfade every seam would jump.
        return np.full(len(frames) * FRAME_SAMPLES, next(calls) * 0.2, dtype=np.float32)

    chunks = _stream(offset_decode, _frames(8))
    for index, (previous, chunk) in enumerate(itertools.pairwise(chunks)):
        assert abs(float(chunk[0]) - float(previous[-1])) < 0.01
        if index < len(chunks) - 2:  # the tail continues the last window: no seam to fade
            assert chunk[-1] == pytest.approx((index + 1) * 0.2)
        assert np.max(np.abs(np.diff(chunk))) < 0.01


def test_tiny_snac_streams_the_same_length_as_the_whole_decode(snac_dir: Path) -> None:
    codec = SnacCodec.load(snac_dir, read_snac_config(snac_dir), torch.device("cpu"))
    assert (codec.sample_rate_hz, codec.samples_per_frame) == (24000, 2048)
    frames = _frames(7)
    chunks = _stream(codec.decode, frames)
    whole = decode_whole(codec.decode, frames, codec.samples_per_frame)
    assert all(c.dtype == np.float32 for c in chunks)
    assert sum(len(c) for c in chunks) == len(whole) == 6 * 2048
    assert float(np.max(np.abs(np.concatenate(chunks)))) <= 1.0


def test_tiny_snac_decode_is_deterministic_once_seeded(snac_dir: Path) -> None:
    codec = SnacCodec.load(snac_dir, read_snac_config(snac_dir), torch.device("cpu"))
    frames = _frames(3)
    torch.manual_seed(5)
    first = codec.decode(frames)
    torch.manual_seed(5)
    np.testing.assert_array_equal(first, codec.decode(frames))


def test_bad_snac_directories(tmp_path: Path, snac_dir: Path) -> None:
    with pytest.raises(EngineLoadError, match="does not exist"):
        read_snac_config(tmp_path / "nowhere")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(EngineLoadError, match=r"no config\.json"):
        read_snac_config(empty)
    no_weights = tmp_path / "no-weights"
    no_weights.mkdir()
    shutil.copy(snac_dir / "config.json", no_weights)
    with pytest.raises(EngineLoadError, match=r"no pytorch_model\.bin"):
        read_snac_config(no_weights)
    small = tmp_path / "small-codebook"
    build_snac(small, codebook_size=1024)
    with pytest.raises(EngineLoadError, match="codebook_size is 1024"):
        read_snac_config(small)
    strides = tmp_path / "strides"
    shutil.copytree(snac_dir, strides)
    config = json.loads((strides / "config.json").read_text())
    (strides / "config.json").write_text(json.dumps({**config, "vq_strides": [8, 4, 2, 1]}))
    with pytest.raises(EngineLoadError, match="vq_strides"):
        read_snac_config(strides)
    mismatched = tmp_path / "mismatched"
    shutil.copytree(snac_dir, mismatched)
    (mismatched / "config.json").write_text(json.dumps({**config, "decoder_dim": 32}))
    with pytest.raises(EngineLoadError, match="cannot load SNAC"):
        SnacCodec.load(mismatched, read_snac_config(mismatched), torch.device("cpu"))
