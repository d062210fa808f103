"""7-token audio frames ↔ SNAC's three code levels, with range checks.

Frame slot ``j`` (0…6) holds ``code + first_code + j * 4096``; the levels of one frame are
``[s0]``, ``[s1, s4]`` and ``[s2, s3, s5, s6]``. Everything from the first EOS_AUDIO on is
ignored and a trailing incomplete frame is dropped, never padded. A token outside its slot's
range is an error in strict mode (the reference silently reduces it ``% 4096``, which turns a
misaligned stream into noise); in lenient mode the whole frame is skipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

from voxserve.engines.maya1.tokens import CODEBOOK_SIZE, FRAME_TOKENS, Maya1Tokens

#: The 7 codes (each 0…4095) of one frame, in slot order.
Frame = tuple[int, int, int, int, int, int, int]
Codes = npt.NDArray[np.int64]

_LEVEL_2_SLOTS = (1, 4)
_LEVEL_3_SLOTS = (2, 3, 5, 6)


class FrameError(ValueError):
    """A frame token is outside its slot's code range (strict mode)."""


def frame_from_tokens(frame_tokens: Sequence[int], tokens: Maya1Tokens) -> Frame:
    """The codes of one 7-token frame; ``FrameError`` if a token is not in its slot's range."""
    if len(frame_tokens) != FRAME_TOKENS:
        raise FrameError(f"a frame has {FRAME_TOKENS} tokens, got {len(frame_tokens)}")
    codes = []
    for slot, token in enumerate(frame_tokens):
        code = token - tokens.slot_start(slot)
        if not 0 <= code < CODEBOOK_SIZE:
            low = tokens.slot_start(slot)
            raise FrameError(
                f"token {token} in frame slot {slot} is outside [{low}, {low + CODEBOOK_SIZE})"
            )
        codes.append(code)
    return (codes[0], codes[1], codes[2], codes[3], codes[4], codes[5], codes[6])


def frame_to_tokens(frame: Frame, tokens: Maya1Tokens) -> list[int]:
    """The 7 token ids of one frame (the inverse of :func:`frame_from_tokens`)."""
    for code in frame:
        if not 0 <= code < CODEBOOK_SIZE:
            raise FrameError(f"code {code} is outside [0, {CODEBOOK_SIZE})")
    return [code + tokens.slot_start(slot) for slot, code in enumerate(frame)]


class FrameAssembler:
    """Turns generated tokens, one at a time, into frames (the streaming unpacker)."""

    def __init__(self, tokens: Maya1Tokens, *, strict: bool) -> None:
        self._tokens = tokens
        self._strict = strict
        self._pending: list[int] = []
        #: True once EOS_AUDIO was seen; later tokens are ignored.
        self.finished = False
        #: Frames skipped in lenient mode.
        self.skipped = 0

    def push(self, token: int) -> Frame | None:
        """Add one token; returns the frame it completes, if any (``FrameError`` if strict)."""
        if self.finished:
            return None
        if token == self._tokens.eos_audio:
            self.finished = True
            self._pending.clear()  # a trailing incomplete frame is dropped
            return None
        self._pending.append(token)
        if len(self._pending) < FRAME_TOKENS:
            return None
        frame_tokens, self._pending = self._pending, []
        try:
            return frame_from_tokens(frame_tokens, self._tokens)
        except FrameError:
            if self._strict:
                raise
            self.skipped += 1
            return None

    def push_all(self, token_ids: Iterable[int]) -> list[Frame]:
        """Push a whole sequence; returns its frames (up to the first EOS_AUDIO)."""
        frames = []
        for token in token_ids:
            frame = self.push(token)
            if frame is not None:
                frames.append(frame)
            if self.finished:
                break
        return frames


def frames_from_tokens(
    token_ids: Iterable[int], tokens: Maya1Tokens, *, strict: bool
) -> list[Frame]:
    """All whole frames of a generated sequence (up to the first EOS_AUDIO)."""
    return FrameAssembler(tokens, strict=strict).push_all(token_ids)


def frames_to_tokens(frames: Iterable[Frame], tokens: Maya1Tokens) -> list[int]:
    """Token ids of whole frames, in order (pack)."""
    return [token for frame in frames for token in frame_to_tokens(frame, tokens)]


def frames_to_levels(frames: Sequence[Frame]) -> tuple[Codes, Codes, Codes]:
    """SNAC's levels for ``n`` frames: arrays of ``n``, ``2n`` and ``4n`` codes."""
    table = np.asarray(frames, dtype=np.int64).reshape(-1, FRAME_TOKENS)
    return (
        table[:, 0].copy(),
        table[:, list(_LEVEL_2_SLOTS)].reshape(-1),
        table[:, list(_LEVEL_3_SLOTS)].reshape(-1),
    )


def levels_to_frames(level1: Codes, level2: Codes, level3: Codes) -> list[Frame]:
    """The inverse of :func:`frames_to_levels`."""
    n = len(level1)
    if len(level2) != 2 * n or len(level3) != 4 * n:
        raise FrameError(f"level lengths {n}, {len(level2)}, {len(level3)} are not n, 2n, 4n")
    table = np.empty((n, FRAME_TOKENS), dtype=np.int64)
    table[:, 0] = level1
    table[:, list(_LEVEL_2_SLOTS)] = np.asarray(level2).reshape(n, 2)
    table[:, list(_LEVEL_3_SLOTS)] = np.asarray(level3).reshape(n, 4)
    return [
        (int(r[0]), int(r[1]), int(r[2]), int(r[3]), int(r[4]), int(r[5]), int(r[6]))
        for r in table
    ]
