"""Segment joiner: no clicks at the seams, exact and even pauses, safe on silence."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from voxserve.audio import SegmentJoiner
from voxserve.types import FloatSamples

RATE_HZ = 22050
THRESHOLD = 0.002


def loud_sine(duration_s: float, phase: float = 0.0) -> FloatSamples:
    """A 0.9-amplitude 440 Hz sine; ``phase`` picks where it starts in its cycle."""
    t = np.arange(round(duration_s * RATE_HZ)) / RATE_HZ
    return (0.9 * np.sin(2 * np.pi * 440 * t + phase)).astype(np.float32)


def padded(samples: FloatSamples, lead_s: float, tail_s: float) -> FloatSamples:
    lead, tail = np.zeros(round(lead_s * RATE_HZ)), np.zeros(round(tail_s * RATE_HZ))
    return np.concatenate([lead, samples, tail]).astype(np.float32)


def max_step(samples: FloatSamples, around: int, radius: int = 300) -> float:
    """Largest sample-to-sample jump within ``radius`` samples of index ``around``."""
    window = samples[max(0, around - radius) : around + radius]
    return float(np.max(np.abs(np.diff(window))))


def audible_gap(joined: FloatSamples, first_len: int) -> int:
    """Samples strictly between the last loud sample of the first part and the next loud one."""
    loud = np.flatnonzero(np.abs(joined) > THRESHOLD)
    last_of_first = loud[loud < first_len].max()
    first_of_second = loud[loud >= first_len].min()
    return int(first_of_second - last_of_first - 1)


@pytest.mark.parametrize("silence_ms", [0.0, 200.0])
def test_no_click_where_sines_end_mid_cycle(silence_ms: float) -> None:
    # Ends near its positive peak, the next one starts near its negative peak.
    first, second = loud_sine(0.25 + 0.25 / 440), loud_sine(0.3, phase=-np.pi / 2)
    within_sine = max_step(first, first.size // 2)

    naive = np.concatenate([first, second])
    assert max_step(naive, first.size) > 1.0, "the test signal must click when joined naively"

    joiner = SegmentJoiner(RATE_HZ, silence_between_ms=silence_ms)
    out_first, out_second = joiner.add(first), joiner.add(second)
    joined = np.concatenate([out_first, out_second])
    for seam in (out_first.size, out_first.size + joiner.silence_samples):
        assert max_step(joined, seam) <= 1.2 * within_sine
    assert out_first[0] == out_first[-1] == out_second[-1] == 0.0


def test_silence_between_segments_is_exact() -> None:
    joiner = SegmentJoiner(RATE_HZ, silence_between_ms=150.0, trim_silence=False)
    first, second = loud_sine(0.2), loud_sine(0.3, phase=1.0)
    out_first, out_second = joiner.add(first), joiner.add(second)
    silence = round(0.150 * RATE_HZ)
    assert joiner.silence_samples == silence
    assert out_first.size == first.size  # nothing before the first segment
    assert out_second.size == silence + second.size
    assert not out_second[:silence].any()
    assert out_second[silence + 1] != 0.0


@pytest.mark.parametrize(("tail_s", "lead_s"), [(0.05, 0.05), (0.9, 0.02), (0.011, 1.5)])
def test_trimming_evens_out_pauses(tail_s: float, lead_s: float) -> None:
    joiner = SegmentJoiner(RATE_HZ, silence_between_ms=200.0, trim_margin_ms=10.0)
    speech = loud_sine(0.2, phase=1.0)  # loud from its first sample to its last
    out_first = joiner.add(padded(speech, 0.3, tail_s))
    out_second = joiner.add(padded(speech, lead_s, 0.0))
    joined = np.concatenate([out_first, out_second])
    margin = round(0.010 * RATE_HZ)
    assert audible_gap(joined, out_first.size) == margin + round(0.200 * RATE_HZ) + margin
    assert out_first.size == margin + speech.size + margin


def test_without_trimming_pauses_add_up() -> None:
    joiner = SegmentJoiner(RATE_HZ, silence_between_ms=200.0, trim_silence=False)
    out_first = joiner.add(padded(loud_sine(0.2), 0.0, 0.5))
    out_second = joiner.add(padded(loud_sine(0.2, phase=1.0), 0.25, 0.0))
    gap = audible_gap(np.concatenate([out_first, out_second]), out_first.size)
    assert gap == round(0.5 * RATE_HZ) + round(0.2 * RATE_HZ) + round(0.25 * RATE_HZ)


def test_silent_and_empty_segments_emit_nothing() -> None:
    joiner = SegmentJoiner(RATE_HZ)
    assert joiner.add(np.full(RATE_HZ, 0.001, np.float32)).size == 0
    assert joiner.add(np.zeros(0, np.float32)).size == 0
    first = joiner.add(loud_sine(0.1))
    assert first.size == loud_sine(0.1).size, "no silence before the first audible segment"
    assert joiner.add(np.zeros(RATE_HZ, np.float32)).size == 0
    assert joiner.add(loud_sine(0.1)).size == joiner.silence_samples + first.size


def test_silent_segment_without_trimming_is_silence() -> None:
    joiner = SegmentJoiner(RATE_HZ, trim_silence=False)
    joiner.add(loud_sine(0.1))
    out = joiner.add(np.zeros(100, np.float32))
    assert out.size == joiner.silence_samples + 100
    assert not out.any()


def test_does_not_modify_its_input() -> None:
    segment = loud_sine(0.1, phase=1.0)
    before = segment.copy()
    SegmentJoiner(RATE_HZ).add(segment)
    np.testing.assert_array_equal(segment, before)


@settings(max_examples=60, deadline=None)
@given(
    segments=st.lists(
        arrays(np.float32, st.integers(0, 3000), elements=st.floats(-2, 2, width=32)),
        max_size=4,
    ),
    trim=st.booleans(),
)
def test_output_is_float32_in_range_and_starts_and_ends_at_zero(
    segments: list[FloatSamples], trim: bool
) -> None:
    joiner = SegmentJoiner(RATE_HZ, silence_between_ms=20.0, trim_silence=trim)
    for segment in segments:
        out = joiner.add(segment)
        assert out.dtype == np.float32
        assert np.all(np.abs(out) <= 1.0)
        if out.size:
            assert out[0] == out[-1] == 0.0


def _segment_strategy() -> st.SearchStrategy[FloatSamples]:
    """Quiet lead, loud parts with quiet gaps, quiet tail: what trimming and fades act on."""
    part = st.tuples(st.integers(0, 700), st.integers(0, 900), st.floats(0.0, 1.2))

    def build(parts: list[tuple[int, int, float]]) -> FloatSamples:
        pieces = []
        for quiet, loud, level in parts:
            pieces.append(np.full(quiet, 0.001, np.float32))
            pieces.append((level * np.sin(np.arange(loud) * 0.3)).astype(np.float32))
        return np.concatenate(pieces) if pieces else np.zeros(0, np.float32)

    return st.lists(part, min_size=0, max_size=4).map(build)


def _reference_join(segments: list[FloatSamples], joiner: SegmentJoiner) -> list[FloatSamples]:
    """The class doc's four steps, done on each whole segment at once."""
    out, emitted_any = [], False
    margin, fade = joiner.trim_margin_samples, joiner.fade_samples
    for samples in segments:
        segment = np.clip(samples, -1.0, 1.0).astype(np.float32)
        if joiner.trim_silence:
            loud = np.flatnonzero(np.abs(segment) > joiner.trim_threshold)
            segment = (segment[max(0, loud[0] - margin):loud[-1] + 1 + margin] if loud.size
                       else segment[:0])
        if segment.size == 0:
            out.append(segment)
            continue
        length = min(fade, (segment.size + 1) // 2)
        ramp = (0.5 - 0.5 * np.cos(np.pi * np.arange(length) / length)).astype(np.float32)
        segment[:length] *= ramp
        segment[segment.size - length:] *= ramp[::-1]
        if emitted_any:
            segment = np.concatenate([np.zeros(joiner.silence_samples, np.float32), segment])
        emitted_any = True
        out.append(segment)
    return out


@settings(max_examples=150, deadline=None)
@given(
    segments=st.lists(_segment_strategy(), min_size=1, max_size=3),
    chunk_sizes=st.lists(st.integers(1, 600), min_size=1, max_size=8),
    trim=st.booleans(),
)
def test_a_segment_pushed_in_chunks_joins_as_the_whole_segment(
    segments: list[FloatSamples], chunk_sizes: list[int], trim: bool
) -> None:
    whole = SegmentJoiner(RATE_HZ, silence_between_ms=20.0, trim_silence=trim)
    streamed = SegmentJoiner(RATE_HZ, silence_between_ms=20.0, trim_silence=trim)
    expected = _reference_join(segments, whole)
    for segment, want in zip(segments, expected, strict=True):
        np.testing.assert_array_equal(whole.add(segment), want)
    for segment, want in zip(segments, expected, strict=True):
        got, start, turn = [], 0, 0
        while start < segment.size:
            size = chunk_sizes[turn % len(chunk_sizes)]
            got.append(streamed.push(segment[start:start + size]))
            start, turn = start + size, turn + 1
        got.append(streamed.end_segment())
        np.testing.assert_array_equal(np.concatenate(got), want)


def test_a_long_segment_streams_before_it_ends() -> None:
    """A streaming engine's segment leaves the joiner chunk by chunk, with no pause or fade
    between its chunks (only the fade-out's few samples wait for the segment's end)."""
    joiner = SegmentJoiner(RATE_HZ, silence_between_ms=200.0)
    sine = loud_sine(1.0)
    chunk = 2048
    outputs = [joiner.push(sine[i:i + chunk]) for i in range(0, sine.size, chunk)]
    tail = joiner.end_segment()
    assert all(out.size > 0 for out in outputs[1:])
    assert tail.size <= joiner.fade_samples + joiner.trim_margin_samples
    joined = np.concatenate([*outputs, tail])
    assert joined.size == sine.size  # no pause inserted between chunks
    middle = slice(joiner.fade_samples, sine.size - joiner.fade_samples)
    np.testing.assert_array_equal(joined[middle], sine[middle])


def _tone(seconds: float, rate: int, quiet_edges_s: float = 0.05) -> np.ndarray:
    """A loud tone with near-silence at both ends (as a TTS sentence has)."""
    t = np.arange(int(seconds * rate)) / rate
    tone = (0.5 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    tone[np.abs(tone) < 0.01] = 0.01  # no quiet samples inside the tone
    edge = np.zeros(int(quiet_edges_s * rate), np.float32)
    return np.concatenate([edge, tone, edge])


@pytest.mark.parametrize("chunked", [False, True])
@pytest.mark.parametrize("pause_ms", [0, 15, 20, 250, 1500])
def test_set_pause_spaces_the_audible_parts_exactly(chunked: bool, pause_ms: int) -> None:
    rate = 22050
    joiner = SegmentJoiner(rate, silence_between_ms=200, fade_ms=5)
    out = [joiner.add(_tone(0.3, rate))]
    joiner.set_pause(pause_ms)
    second = _tone(0.3, rate)
    if chunked:
        out += [joiner.push(piece) for piece in np.array_split(second, 7)]
        out.append(joiner.end_segment())
    else:
        out.append(joiner.add(second))
    out.append(joiner.add(_tone(0.3, rate)))  # the pause applies once
    audio = np.concatenate(out)
    loud = np.flatnonzero(np.abs(audio) > joiner.trim_threshold)
    gaps = np.diff(loud)[np.diff(loud) > 1] - 1
    expected_first = max(round(pause_ms * rate / 1000), 2 * joiner.trim_margin_samples)
    assert list(gaps) == [expected_first, round(0.2 * rate) + 2 * joiner.trim_margin_samples]


def test_leading_and_trailing_pauses() -> None:
    rate = 16000
    joiner = SegmentJoiner(rate, fade_ms=5)
    joiner.set_pause(500)
    audio = joiner.add(_tone(0.2, rate))
    joiner.set_pause(1000)
    audio = np.concatenate([audio, joiner.finish_pause()])
    loud = np.flatnonzero(np.abs(audio) > joiner.trim_threshold)
    assert loud[0] == 500 * rate // 1000
    assert audio.size - 1 - loud[-1] == 1000 * rate // 1000
    assert joiner.finish_pause().size == 0
    with pytest.raises(ValueError):
        joiner.set_pause(-1)
