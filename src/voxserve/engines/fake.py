"""A model-free engine for tests: a deterministic tone per segment, instantly.

Each segment becomes a sine tone whose pitch depends on the text and whose length is
proportional to it, so tests can check routing, ordering and streaming without a model.
``before_segment`` lets an in-process test block or observe synthesis of each segment.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Hashable, Iterator, Sequence

import numpy as np
from pydantic import Field

from voxserve.engines.base import EngineOptions, SegmentRequest, SynthesisParams
from voxserve.errors import EngineFailed, VoiceNotFound
from voxserve.settings import Settings
from voxserve.types import AudioChunk, EngineCapabilities, VoiceInfo

FAKE_SAMPLE_RATE_HZ = 16000
SECONDS_PER_CHAR = 0.02


class FakeOptions(EngineOptions):
    #: Raise ``EngineFailed`` for a segment containing this text (tests error paths).
    fail_on: str | None = Field(default=None, min_length=1)
    #: Pretend each segment takes this long to synthesize (tests across processes).
    sleep_ms: float = Field(default=0.0, ge=0.0, le=10_000.0)


class FakeEngine:
    name = "fake"
    capabilities = EngineCapabilities(batching_gain=False, max_batch_size=1, deterministic=True)
    options_model = FakeOptions

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.before_segment: Callable[[str], None] | None = None
        self.segments_synthesized: list[str] = []

    def load(self) -> None:
        return None

    def close(self) -> None:
        return None

    def voices(self) -> Sequence[VoiceInfo]:
        return [
            VoiceInfo(
                id="fake-tone",
                engine=self.name,
                language="en_US",
                sample_rate_hz=FAKE_SAMPLE_RATE_HZ,
                description="Test tones, no model",
                aliases=("tone",),
                version="fake-1",
            )
        ]

    def synthesize(self, text: str, voice_id: str, params: SynthesisParams) -> Iterator[AudioChunk]:
        if voice_id not in ("fake-tone", "tone"):
            raise VoiceNotFound(f"fake has no voice '{voice_id}'", param="voice")
        if self.before_segment is not None:
            self.before_segment(text)
        options = params.options
        if isinstance(options, FakeOptions):
            if options.fail_on and options.fail_on in text:
                raise EngineFailed(f"fake engine told to fail on {options.fail_on!r}")
            if options.sleep_ms:
                time.sleep(options.sleep_ms / 1000)
        self.segments_synthesized.append(text)
        yield AudioChunk(samples=tone_for(text, params.speed), sample_rate_hz=FAKE_SAMPLE_RATE_HZ)


class FakeBatchEngine(FakeEngine):
    """The fake engine declaring a gain from batching, so the batcher can be tested."""

    name = "fake-batch"
    capabilities = EngineCapabilities(batching_gain=True, max_batch_size=8, deterministic=True)

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.batch_sizes: list[int] = []

    def batch_key(self, voice_id: str, params: SynthesisParams) -> Hashable:
        return (voice_id, params.speed)

    def synthesize_batch(self, requests: Sequence[SegmentRequest]) -> list[list[AudioChunk]]:
        self.batch_sizes.append(len(requests))
        return [list(self.synthesize(r.text, r.voice_id, r.params)) for r in requests]


def tone_for(text: str, speed: float = 1.0) -> np.ndarray:
    """The samples the fake engine produces for ``text`` (tests compute expectations with it)."""
    duration_s = max(len(text), 1) * SECONDS_PER_CHAR / speed
    frequency_hz = 200.0 + zlib.crc32(text.encode()) % 600
    t = np.arange(int(duration_s * FAKE_SAMPLE_RATE_HZ), dtype=np.float32) / FAKE_SAMPLE_RATE_HZ
    return (0.5 * np.sin(2 * np.pi * frequency_hz * t)).astype(np.float32)
