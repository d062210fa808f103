"""7-token audio frames ↔ SNAC's three code levels, and what happens to stray tokens.

Frame slot ``j`` (0…6) holds ``code + first_code + j * 4096``; the levels of one frame are
``[s0]``, ``[s1, s4]`` and ``[s2, s3, s5, s6]``. Everything from the first EOS_AUDIO on is
ignored and a trailing incomplete frame is dropped, never padded.

A *stray* token is one outside its slot's range. Both backends mask every step to the codes
of the slot being generated (plus EOS_AUDIO), so a stray means a backend without that mask or
a bug; it never ends the stream. The rule (``maya1_stray_tokens``), counted in
``voxserve_maya1_stray_tokens_total``:

* ``repair`` (default): a code of another slot keeps its code ``(token - first_code) % 4096``
  in the slot it was generated for (the reference implementation's ``% 4096``); a frame with
  a token that is no audio code at all (a text or special id) is skipped.
* ``skip``: any frame with a stray token is skipped.

Skipping drops that frame's 85 ms; the streaming crossfade smooths the seam.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt

from voxserve.engines.maya1.tokens import CODEBOOK_SIZE, FRAME_TOKENS, Maya1Tokens

#: The 7 codes (each 0…4095) of one frame, in slot order.
Frame = tuple[int, int, int, int, int, int, int]
Codes = npt.NDArray[np.int64]

#: What to do with a frame holding a token outside its slot's range (see the module doc).
StrayPolicy = Literal["repair", "skip"]

_LEVEL_2_SLOTS = (1, 4)
_LEVEL_3_SLOTS = (2, 3, 5, 6)


class FrameError(ValueError):
    """A frame token is outside its slot's code range (strict decoding)."""


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

    def __init__(self, tokens: Maya1Tokens, *, policy: StrayPolicy = "repair") -> None:
        self._tokens = tokens
        self._policy = policy
        self._pending: list[int] = []
        #: True once EOS_AUDIO was seen; later tokens are ignored.
        self.finished = False
        #: Stray tokens kept with their code reduced to their own slot (``repair``).
        self.repaired_tokens = 0
        #: Stray tokens whose frame was skipped.
        self.dropped_tokens = 0
        #: Frames skipped for a stray token.
        self.skipped = 0

    def push(self, token: int) -> Frame | None:
        """Add one token; returns the frame it completes, if any."""
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
        return self._frame(frame_tokens)

    def _frame(self, frame_tokens: Sequence[int]) -> Frame | None:
        tokens = self._tokens
        codes = [token - tokens.slot_start(slot) for slot, token in enumerate(frame_tokens)]
        strays = [slot for slot, code in enumerate(codes) if not 0 <= code < CODEBOOK_SIZE]
        if not strays:
            return (codes[0], codes[1], codes[2], codes[3], codes[4], codes[5], codes[6])
        repairable = self._policy == "repair" and all(
            tokens.first_code <= frame_tokens[slot] < tokens.code_end for slot in strays
        )
        if not repairable:
            self.dropped_tokens += len(strays)
            self.skipped += 1
            return None
        self.repaired_tokens += len(strays)
        for slot in strays:
            codes[slot] = (frame_tokens[slot] - tokens.first_code) % CODEBOOK_SIZE
        return (codes[0], codes[1], codes[2], codes[3], codes[4], codes[5], codes[6])

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
    token_ids: Iterable[int], tokens: Maya1Tokens, *, policy: StrayPolicy = "repair"
) -> list[Frame]:
    """All whole frames of a generated sequence (up to the first EOS_AUDIO)."""
    return FrameAssembler(tokens, policy=policy).push_all(token_ids)


def strict_frames(token_ids: Iterable[int], tokens: Maya1Tokens) -> list[Frame]:
    """Whole frames up to the first EOS_AUDIO; ``FrameError`` at the first stray token
    (for checks that every token is in its slot, never for serving)."""
    frames = []
    pending: list[int] = []
    for token in token_ids:
        if token == tokens.eos_audio:
            break
        pending.append(token)
        if len(pending) == FRAME_TOKENS:
            frames.append(frame_from_tokens(pending, tokens))
            pending = []
    return frames


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
