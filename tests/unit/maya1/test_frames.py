"""Frames ↔ tokens ↔ SNAC levels: round trips, range checks, EOS, partial frames, strays."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from voxserve.engines.maya1.frames import (
    Frame,
    FrameAssembler,
    FrameError,
    frame_from_tokens,
    frames_from_tokens,
    frames_to_levels,
    frames_to_tokens,
    levels_to_frames,
    strict_frames,
)
from voxserve.engines.maya1.tokens import CODEBOOK_SIZE, Maya1Tokens

TOKENS = Maya1Tokens()
EOS = TOKENS.eos_audio

codes = st.integers(min_value=0, max_value=CODEBOOK_SIZE - 1)
frames_strategy = st.lists(st.tuples(codes, codes, codes, codes, codes, codes, codes), max_size=20)


@given(frames_strategy)
def test_pack_unpack_is_identity(frames: list[Frame]) -> None:
    token_ids = frames_to_tokens(frames, TOKENS)
    assert len(token_ids) == 7 * len(frames)
    assert all(TOKENS.first_code <= t < TOKENS.code_end for t in token_ids)
    assert frames_from_tokens(token_ids, TOKENS) == frames
    assert strict_frames(token_ids, TOKENS) == frames
    level1, level2, level3 = frames_to_levels(frames)
    n = len(frames)
    assert (len(level1), len(level2), len(level3)) == (n, 2 * n, 4 * n)
    assert levels_to_frames(level1, level2, level3) == frames


def test_level_layout_of_one_frame() -> None:
    level1, level2, level3 = frames_to_levels([(10, 11, 12, 13, 14, 15, 16)])
    assert level1.tolist() == [10]
    assert level2.tolist() == [11, 14]
    assert level3.tolist() == [12, 13, 15, 16]
    assert frame_from_tokens([128266 + 10, 132362 + 11, 136458 + 12, 140554 + 13,
                              144650 + 14, 148746 + 15, 152842 + 16], TOKENS) == (
        10, 11, 12, 13, 14, 15, 16)


@given(frames_strategy, st.integers(min_value=0, max_value=6), st.data())
def test_eos_ends_and_partial_frame_is_dropped(
    frames: list[Frame], partial: int, data: st.DataObject
) -> None:
    token_ids = frames_to_tokens(frames, TOKENS)
    extra = frames_to_tokens([(1, 2, 3, 4, 5, 6, 7)], TOKENS)[:partial]
    after_eos = data.draw(st.lists(st.integers(0, 200_000), max_size=10))
    assert frames_from_tokens([*token_ids, *extra], TOKENS) == frames
    assert frames_from_tokens([*token_ids, *extra, EOS, *after_eos], TOKENS) == frames
    assert strict_frames([*token_ids, *extra, EOS, *after_eos], TOKENS) == frames


not_a_code = st.one_of(
    st.integers(min_value=0, max_value=TOKENS.first_code - 1).filter(lambda t: t != EOS),
    st.integers(min_value=TOKENS.code_end, max_value=TOKENS.code_end + 10_000),
)


@given(frames_strategy.filter(bool), st.data())
def test_a_code_in_the_wrong_slot_is_repaired_or_its_frame_skipped(
    frames: list[Frame], data: st.DataObject
) -> None:
    token_ids = frames_to_tokens(frames, TOKENS)
    bad_frame = data.draw(st.integers(0, len(frames) - 1))
    slot = data.draw(st.integers(0, 6))
    wrong_slot = data.draw(st.integers(0, 6).filter(lambda s: s != slot))
    code = data.draw(codes)
    token_ids[7 * bad_frame + slot] = TOKENS.slot_start(wrong_slot) + code
    with pytest.raises(FrameError, match=f"slot {slot}"):
        strict_frames(token_ids, TOKENS)
    # repair: the reference's `% 4096`, the code stays in the slot it was generated for
    repaired = list(frames[bad_frame])
    repaired[slot] = code
    assembler = FrameAssembler(TOKENS, policy="repair")
    assert assembler.push_all(token_ids) == [*frames[:bad_frame], tuple(repaired),
                                             *frames[bad_frame + 1:]]
    assert (assembler.repaired_tokens, assembler.dropped_tokens, assembler.skipped) == (1, 0, 0)
    skipping = FrameAssembler(TOKENS, policy="skip")
    assert skipping.push_all(token_ids) == frames[:bad_frame] + frames[bad_frame + 1:]
    assert (skipping.repaired_tokens, skipping.dropped_tokens, skipping.skipped) == (0, 1, 1)


@given(frames_strategy.filter(bool), st.data())
def test_a_token_that_is_no_code_skips_its_frame_under_either_rule(
    frames: list[Frame], data: st.DataObject
) -> None:
    token_ids = frames_to_tokens(frames, TOKENS)
    bad_frame = data.draw(st.integers(0, len(frames) - 1))
    slots = data.draw(st.sets(st.integers(0, 6), min_size=1))
    for slot in slots:
        token_ids[7 * bad_frame + slot] = data.draw(not_a_code)
    for policy in ("repair", "skip"):
        assembler = FrameAssembler(TOKENS, policy=policy)  # type: ignore[arg-type]
        assert assembler.push_all(token_ids) == frames[:bad_frame] + frames[bad_frame + 1:]
        assert (assembler.dropped_tokens, assembler.skipped) == (len(slots), 1)


def test_codes_out_of_range_cannot_be_packed() -> None:
    with pytest.raises(FrameError):
        frames_to_tokens([(0, 0, 0, 4096, 0, 0, 0)], TOKENS)
    with pytest.raises(FrameError):
        levels_to_frames(np.zeros(2, np.int64), np.zeros(3, np.int64), np.zeros(8, np.int64))


def test_assembler_streams_frames_and_stops_at_eos() -> None:
    frames: list[Frame] = [(1, 2, 3, 4, 5, 6, 7), (7, 6, 5, 4, 3, 2, 1)]
    assembler = FrameAssembler(TOKENS)
    out = [assembler.push(t) for t in frames_to_tokens(frames, TOKENS)]
    assert out[6] == frames[0] and out[13] == frames[1]
    assert [f for f in out if f is not None] == frames
    assert assembler.push(EOS) is None and assembler.finished
    assert assembler.push(TOKENS.first_code) is None
