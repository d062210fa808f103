"""The SNAC decode batcher: batched windows decode as alone, errors stay with their stream,
streams closing early never stall the others, and closing fails what waits.

"As alone" is up to float32 rounding: a convolution kernel may sum in another order for
another batch size (here |Δ| ≤ 3e-7), far below one step of the 16-bit output (3e-5), while
another stream's window would differ by ~0.1.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import torch
from prometheus_client import REGISTRY

from voxserve.engines.maya1.codec import SnacCodec, StreamingDecoder, read_snac_config
from voxserve.engines.maya1.frames import Frame
from voxserve.engines.maya1.snac_batcher import DecodeBatcher
from voxserve.errors import EngineFailed
from voxserve.types import FloatSamples

SAME_AUDIO = {"rtol": 0.0, "atol": 2e-6}


@pytest.fixture(scope="module")
def codec(quiet_snac_dir: Path) -> SnacCodec:
    return SnacCodec.load(quiet_snac_dir, read_snac_config(quiet_snac_dir), torch.device("cpu"))


def _frames(count: int, seed: int) -> list[Frame]:
    rng = np.random.default_rng(seed)
    return [tuple(int(c) for c in rng.integers(0, 4096, 7)) for _ in range(count)]  # type: ignore[misc]


def _batch_sizes() -> dict[str, float]:
    """Cumulative bucket counts of the batch-size histogram."""
    return {le: REGISTRY.get_sample_value("voxserve_maya1_snac_batch_windows_bucket",
                                          {"le": le}) or 0.0 for le in ("1.0", "2.0", "4.0")}


def test_a_batched_decode_equals_each_window_alone(codec: SnacCodec) -> None:
    windows = [_frames(4, seed) for seed in range(5)]
    together = codec.decode_many(windows)
    for window, samples in zip(windows, together, strict=True):
        np.testing.assert_allclose(samples, codec.decode(window), **SAME_AUDIO)
    with pytest.raises(ValueError, match="same length"):
        codec.decode_many([_frames(4, 0), _frames(3, 0)])


def _stream_all(decode: object, frames: Sequence[Frame], stop_after: int | None = None
                ) -> FloatSamples:
    decoder = StreamingDecoder(decode, 2048)  # type: ignore[arg-type]
    chunks = []
    for index, frame in enumerate(frames):
        if stop_after is not None and index == stop_after:
            return np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
        chunk = decoder.push(frame)
        if chunk is not None:
            chunks.append(chunk)
    tail = decoder.flush()
    return np.concatenate([*chunks, *([tail] if tail is not None else [])])


def test_concurrent_streams_get_their_solo_audio_in_shared_batches(codec: SnacCodec) -> None:
    """Five streams (one of them a short tail of another length, one closing early) share
    the decode thread; every stream's audio equals its decode without batching."""
    lengths = {0: 12, 1: 12, 2: 9, 3: 3, 4: 12}
    inputs = {stream: _frames(count, 100 + stream) for stream, count in lengths.items()}
    solo = {stream: _stream_all(codec.decode, frames) for stream, frames in inputs.items()}
    early = _stream_all(codec.decode, inputs[4], stop_after=6)
    before = _batch_sizes()
    # A long wait: a batch only goes when every open stream has a window waiting.
    batcher = DecodeBatcher(codec.decode_many, max_windows=64, max_wait_s=5.0)
    results: dict[int, FloatSamples] = {}
    start = threading.Barrier(len(inputs))
    decoders = {stream: batcher.open_stream() for stream in inputs}

    def run(stream: int) -> None:
        start.wait()
        with decoders[stream] as decode:
            stop = 6 if stream == 4 else None  # stream 4 goes away after 6 frames
            results[stream] = _stream_all(decode, inputs[stream], stop)

    threads = [threading.Thread(target=run, args=(s,)) for s in inputs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not any(thread.is_alive() for thread in threads)
    batcher.close()
    for stream in (0, 1, 2, 3):
        assert results[stream].shape == solo[stream].shape
        np.testing.assert_allclose(results[stream], solo[stream], **SAME_AUDIO)
    assert results[4].shape == early.shape == (3 * 2048,)
    np.testing.assert_allclose(results[4], early, **SAME_AUDIO)
    after = _batch_sizes()
    assert after["4.0"] - after["2.0"] > before["4.0"] - before["2.0"]  # batches of 3-4


def test_a_failing_window_fails_only_its_own_stream(codec: SnacCodec) -> None:
    poison = (4095, 4095, 4095, 4095, 4095, 4095, 4095)

    def decode_many(windows: Sequence[Sequence[Frame]]) -> list[FloatSamples]:
        if any(poison in window for window in windows):
            raise RuntimeError("CUDA error: an illegal memory access")
        return codec.decode_many(windows)

    batcher = DecodeBatcher(decode_many, max_windows=8, max_wait_s=5.0)
    good = [_frames(4, seed) for seed in range(3)]
    bad = [*_frames(3, 9), poison]
    outcome: dict[int, object] = {}
    decoders = [batcher.open_stream() for _ in range(4)]

    def run(index: int, window: list[Frame]) -> None:
        try:
            outcome[index] = decoders[index](window)
        except RuntimeError as error:
            outcome[index] = error

    threads = [threading.Thread(target=run, args=(i, w)) for i, w in enumerate([*good, bad])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    batcher.close()
    assert isinstance(outcome[3], RuntimeError) and "illegal memory" in str(outcome[3])
    for index, window in enumerate(good):
        np.testing.assert_allclose(outcome[index], codec.decode(window), **SAME_AUDIO)  # type: ignore[arg-type]


def test_one_stream_never_waits_and_closing_fails_what_waits(codec: SnacCodec) -> None:
    batcher = DecodeBatcher(codec.decode_many, max_windows=4, max_wait_s=60.0)
    with batcher.open_stream() as decode:
        started = time.perf_counter()
        decode(_frames(4, 1))
        assert time.perf_counter() - started < 30  # not the 60 s wait: it is the only stream
    waiting = batcher.open_stream()
    batcher.open_stream()  # a second open stream that never submits: the window waits
    failure: list[BaseException] = []

    def run() -> None:
        try:
            waiting(_frames(4, 2))
        except EngineFailed as error:
            failure.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    time.sleep(0.3)
    batcher.close()
    thread.join(10)
    assert not thread.is_alive() and failure and "closed" in str(failure[0])
    with pytest.raises(EngineFailed, match="closed"):
        batcher.open_stream()
