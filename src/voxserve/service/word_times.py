"""Word start/end times in seconds of the OUTPUT audio, segment by segment as it renders.

The engine's alignment (Piper: samples per phoneme, :attr:`AudioChunk.phonemes`) gives each
word's times within a segment's own audio (:func:`~voxserve.text.word_timing.align_words`);
chunks without one (a cache hit, an engine that cannot align such as Maya1) get times
shared by characters (:func:`~voxserve.text.word_timing.estimate_words`), marked
``estimated``. The joiner's :class:`~voxserve.audio.Placement` of each piece then says where
its raw samples went (after the trims and pauses). Resampling keeps seconds; an engine's
speed is in its audio already (Piper's length scale, Maya1's time stretch), so the times
follow it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from voxserve.audio import Placement
from voxserve.text.prepare import Segment
from voxserve.text.word_timing import (
    align_or_none,
    estimate_words,
    fallback_words,
    joined_alignment,
)
from voxserve.text.words import SpokenWord
from voxserve.types import AudioChunk


@dataclass(frozen=True, slots=True)
class WordTime:
    """One word of the user's input and when the output audio says it."""

    #: the user's text for it ("$25.50", not its spoken expansion)
    word: str
    #: char offsets in the request's input
    source_start: int
    source_end: int
    start_s: float
    end_s: float
    #: shared by characters, not aligned by the engine
    estimated: bool

    def as_dict(self) -> dict[str, object]:
        return {"word": self.word, "start": self.start_s, "end": self.end_s,
                "estimated": self.estimated}


class WordTimeline:
    """The words of one speech stream, appended as each segment's audio has rendered.

    Read :attr:`words` for all so far, or :meth:`take_new` for those since the last call
    (a transport sending them beside the audio); both are safe on the event loop."""

    def __init__(self) -> None:
        self.words: list[WordTime] = []
        self._taken = 0

    def extend(self, words: Sequence[WordTime]) -> None:
        self.words.extend(words)

    def take_new(self) -> list[WordTime]:
        new = self.words[self._taken:]
        self._taken = len(self.words)
        return new


@dataclass(frozen=True, slots=True)
class _Piece:
    samples: int
    phonemes: tuple[tuple[str, int], ...] | None
    placement: Placement | None


class SegmentWordTimer:
    """Collects one segment's pieces (engine chunks and where the joiner put them) and
    turns them into :class:`WordTime` s when the segment ends."""

    def __init__(self, sample_rate_hz: int, input_text: str) -> None:
        self._rate = sample_rate_hz
        self._input = input_text
        self._pieces: list[_Piece] = []

    def add(self, chunk: AudioChunk, placement: Placement | None) -> None:
        """A chunk of the current segment and where it went (None: nothing of it was kept).
        For an engine whose chunks are parts of one joined piece, give only the last one a
        placement (the joiner places the piece when it ends)."""
        self._pieces.append(_Piece(len(chunk.samples), chunk.phonemes, placement))

    def place_last(self, placement: Placement | None) -> None:
        """The placement of the pieces added since the last placed one (a streamed segment
        that the joiner placed at its end)."""
        start = len(self._pieces)
        while start > 0 and self._pieces[start - 1].placement is None:
            start -= 1
        if start == len(self._pieces) or placement is None:
            return
        pieces = self._pieces[start:]
        total = sum(piece.samples for piece in pieces)
        phonemes = joined_alignment([piece.phonemes for piece in pieces])
        self._pieces[start:] = [_Piece(total, phonemes, placement)]

    def end(self, segment: Segment | None, text: str, offset: int = 0) -> list[WordTime]:
        """The segment (its plan entry, or only its spoken ``text`` at input ``offset``)
        has ended: its words' output times."""
        pieces, self._pieces = self._pieces, []
        words = segment.words if segment is not None and segment.words else fallback_words(
            text, segment.source_start if segment is not None else offset)
        if not words or not any(piece.placement for piece in pieces):
            return []
        raw = align_or_none(text, words, joined_alignment([piece.phonemes for piece in pieces]),
                            self._rate)
        if raw is None:
            return self._estimated(pieces, words, text)
        return self._times(pieces, words, text, raw, estimated=False)

    def _estimated(self, pieces: list[_Piece], words: Sequence[SpokenWord],
                   text: str) -> list[WordTime]:
        """Times shared by characters over what the joiner kept of the pieces (not the
        trimmed quiet)."""
        kept = [_kept(piece) for piece in pieces if piece.placement is not None]
        total = sum(piece.samples for piece in kept)
        raw = estimate_words(text, words, total / self._rate)
        return self._times(kept, words, text, raw, estimated=True)

    def _times(self, pieces: list[_Piece], words: Sequence[SpokenWord], text: str,
               raw: list[tuple[float, float]], *, estimated: bool) -> list[WordTime]:
        mapped = _Mapping(pieces)
        result: list[WordTime] = []
        previous = 0
        for word, (start_s, end_s) in zip(words, raw, strict=True):
            start = max(previous, mapped.output(round(start_s * self._rate), at_start=True))
            end = max(start, mapped.output(round(end_s * self._rate), at_start=False))
            previous = start
            result.append(WordTime(
                self._word(word, text), word.source_start, word.source_end,
                round(start / self._rate, 3), round(end / self._rate, 3), estimated,
            ))
        return result

    def _word(self, word: SpokenWord, text: str) -> str:
        if 0 <= word.source_start < word.source_end <= len(self._input):
            return self._input[word.source_start:word.source_end]
        return text[word.spoken_start:word.spoken_end]


def _kept(piece: _Piece) -> _Piece:
    """Only what the joiner kept of ``piece`` (placed), as a piece of its own."""
    assert piece.placement is not None
    first, end = piece.placement.first, piece.placement.end
    return _Piece(end - first, None, Placement(piece.placement.offset + first, 0, end - first))


class _Mapping:
    """A segment's raw sample (its pieces end to end) -> output sample, through the
    pieces' placements: inside what a piece kept it moves with it; what the trim dropped
    maps to the nearest kept sample."""

    def __init__(self, pieces: Sequence[_Piece]) -> None:
        self._spans: list[tuple[int, int, Placement]] = []
        position = 0
        for piece in pieces:
            if piece.placement is not None:
                self._spans.append((position, position + piece.samples, piece.placement))
            position += piece.samples

    def output(self, raw: int, at_start: bool) -> int:
        # the piece that holds it: a start at a boundary belongs to the next, an end to the
        # previous; a sample between kept pieces goes to the next one's start (a start) or
        # the previous one's end (an end)
        chosen: tuple[int, int, Placement] | None = None
        for begin, finish, placement in self._spans:
            inside = begin <= raw < finish if at_start else begin < raw <= finish
            if inside:
                chosen = (begin, finish, placement)
                break
            if at_start and raw < begin:
                chosen = (begin, finish, placement)
                break
            if not at_start and raw >= finish:
                chosen = (begin, finish, placement)
            if not at_start and raw < begin:
                break
        if chosen is None:
            chosen = self._spans[-1] if at_start else self._spans[0]
        begin, _, placement = chosen
        local = min(max(raw - begin, placement.first), placement.end)
        return placement.offset + local
