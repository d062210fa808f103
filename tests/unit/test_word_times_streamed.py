"""SegmentWordTimer for an engine that streams a segment in chunks (Maya1): the joiner places
the segment when it ends; its words are estimated over the segment's (possibly time-stretched)
audio and shifted by the placement."""

from __future__ import annotations

import numpy as np
import pytest

from voxserve.audio import SegmentJoiner
from voxserve.service.word_times import SegmentWordTimer
from voxserve.types import AudioChunk

RATE = 24000


def _speech(seconds: float, quiet_before_s: float = 0.3) -> np.ndarray:
    quiet = np.zeros(int(quiet_before_s * RATE), np.float32)
    t = np.arange(int(seconds * RATE), dtype=np.float32) / RATE
    return np.concatenate([quiet, (0.4 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)])


def _render(joiner: SegmentJoiner, timer: SegmentWordTimer, samples: np.ndarray,
            text: str, offset: int) -> list[tuple[float, float, bool]]:
    for start in range(0, samples.size, 4800):
        joiner.push(samples[start:start + 4800])
        timer.add(AudioChunk(samples[start:start + 4800], RATE), None)
    joiner.end_segment()
    timer.place_last(joiner.placement)
    return [(w.start_s, w.end_s, w.estimated) for w in timer.end(None, text, offset)]


def test_streamed_segments_are_estimated_and_placed_after_the_trim_and_pause() -> None:
    joiner = SegmentJoiner(RATE, silence_between_ms=200)
    timer = SegmentWordTimer(RATE, "one two three four five six")
    first = _render(joiner, timer, _speech(1.0), "one two three", 0)
    second = _render(joiner, timer, _speech(2.0), "four five six", 14)
    assert all(estimated for _, _, estimated in first + second)
    # the leading 0.3 s of quiet was trimmed (but the 10 ms margin): the words share what
    # was kept, 1.01 s, not the quiet
    assert first[0][0] == 0.0 and abs(first[-1][1] - 1.01) < 0.002
    assert abs(first[0][1] - 3 / 13 * 1.01) < 0.002  # "one": 3 of 13 characters
    # the second segment: after the first (1.01 s) and the 200 ms pause
    assert abs(second[0][0] - (1.01 + 0.2)) < 0.003
    # a time-stretched segment (speed 0.5: twice as long) gets twice the word lengths
    assert abs((second[-1][1] - second[0][0]) - 2.01) < 0.003
    assert abs((second[0][1] - second[0][0]) - 4 / 13 * 2.01) < 0.003  # "four": 4 of 13
    starts = [start for start, _, _ in first + second]
    assert starts == sorted(starts)


def test_an_alignment_that_cannot_be_read_falls_back_to_marked_estimates(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*_: object) -> list[tuple[float, float]]:
        raise ZeroDivisionError("bad alignment")

    monkeypatch.setattr("voxserve.text.word_timing.align_words", broken)
    joiner = SegmentJoiner(RATE)
    timer = SegmentWordTimer(RATE, "one two")
    samples = _speech(1.0, 0.0)
    joiner.add(samples)
    timer.add(AudioChunk(samples, RATE, (("^", 100), ("w", samples.size - 100))),
              joiner.placement)
    words = timer.end(None, "one two")
    assert [(w.word, w.estimated) for w in words] == [("one", True), ("two", True)]
    assert words[-1].end_s == pytest.approx(1.0, abs=0.002)
