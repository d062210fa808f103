"""SegmentJoiner.placement: where each segment's raw samples land in the joined output."""

from __future__ import annotations

import numpy as np
import pytest

from voxserve.audio import SegmentJoiner

RATE = 16000


def _segment(quiet_before: int, loud: int, quiet_after: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    body = (0.3 + 0.2 * rng.random(loud)).astype(np.float32)
    return np.concatenate([np.zeros(quiet_before, np.float32), body,
                           np.zeros(quiet_after, np.float32)])


@pytest.mark.parametrize("chunked", [False, True])
def test_raw_samples_land_at_offset_plus_index(chunked: bool) -> None:
    joiner = SegmentJoiner(RATE, silence_between_ms=200, fade_ms=5, trim_margin_ms=10)
    joiner.set_pause(300)  # leading silence
    segments = [_segment(4000, 8000, 3000, 1), _segment(500, 6000, 9000, 2),
                _segment(0, 3000, 10, 3)]
    output: list[np.ndarray] = []
    placements = []
    for raw in segments:
        if chunked:
            for start in range(0, raw.size, 1234):
                output.append(joiner.push(raw[start:start + 1234]))
            output.append(joiner.end_segment())
        else:
            output.append(joiner.add(raw))
        placements.append(joiner.placement)
    joined = np.concatenate(output)
    assert joiner.output_samples == joined.size
    fade = joiner.fade_samples
    for raw, placement in zip(segments, placements, strict=True):
        assert placement is not None
        assert 0 <= placement.first < placement.end <= raw.size
        # what the trim kept is in the output at offset + index (the fades aside)
        inner = slice(placement.first + fade, placement.end - fade)
        out = joined[placement.offset + inner.start: placement.offset + inner.stop]
        np.testing.assert_array_equal(out, raw[inner])
        # the trim dropped the leading quiet (all but the margin)
        loud_first = int(np.argmax(np.abs(raw) > joiner.trim_threshold))
        assert placement.first == max(0, loud_first - joiner.trim_margin_samples)
    # the leading pause: the first segment's first kept sample is after it
    leading = round(0.3 * RATE) - joiner.trim_margin_samples
    assert placements[0].offset + placements[0].first == leading


def test_a_silent_segment_has_no_placement() -> None:
    joiner = SegmentJoiner(RATE)
    joiner.add(_segment(100, 1000, 100, 4))
    assert joiner.placement is not None
    joiner.add(np.zeros(5000, np.float32))
    assert joiner.placement is None
