"""Text that remembers where each of its characters came from in the user's input.

Normalization rewrites text ("$25.50" -> "twenty-five dollars and fifty cents"); subtitles,
cues and word timings must still show what the user wrote. A :class:`TrackedText` holds the
current text and, per character, the source range ``[start, end)`` it was made from: a
character that was kept maps to itself, every character of a replacement maps to the whole
range its match covered (a zero-width insertion maps to an empty range where it was made).

:func:`spoken_words` then pairs each word of the user's input with the part of a segment's
spoken text that says it (the contract in :mod:`voxserve.text.words`).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache

from voxserve.text.words import SpokenWord

Replacement = Callable[[re.Match[str]], str]


@dataclass(frozen=True, slots=True)
class TrackedText:
    """``text`` plus, for each character ``i``, its source range ``[starts[i], ends[i])``."""

    text: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]

    @classmethod
    def of(cls, text: str, offset: int = 0) -> TrackedText:
        """``text`` taken verbatim from the source at ``offset``."""
        starts = tuple(range(offset, offset + len(text)))
        return cls(text, starts, tuple(position + 1 for position in starts))

    @classmethod
    def spanning(cls, text: str, start: int, end: int) -> TrackedText:
        """``text`` said for the source range ``[start, end)`` as a whole (an alias, a tag)."""
        return cls(text, (start,) * len(text), (end,) * len(text))

    @classmethod
    def join(cls, parts: list[TrackedText]) -> TrackedText:
        """The parts one after the other."""
        if len(parts) == 1:
            return parts[0]
        starts: list[int] = []
        ends: list[int] = []
        for part in parts:
            starts.extend(part.starts)
            ends.extend(part.ends)
        return cls("".join(part.text for part in parts), tuple(starts), tuple(ends))

    def __len__(self) -> int:
        return len(self.text)

    def slice(self, start: int, end: int) -> TrackedText:
        return TrackedText(self.text[start:end], self.starts[start:end], self.ends[start:end])

    def source_span(self, start: int = 0, end: int | None = None) -> tuple[int, int] | None:
        """The source range characters ``[start, end)`` came from (None when empty)."""
        end = len(self.text) if end is None else end
        if end <= start:
            return None
        return min(self.starts[start:end]), max(self.ends[start:end])

    def sub(self, pattern: re.Pattern[str], replace: Replacement | str) -> TrackedText:
        """``pattern.sub(replace, text)``, tracked (matches are those of ``re.sub``)."""
        text = self.text
        pieces: list[str] = []
        starts: list[int] = []
        ends: list[int] = []
        last = 0
        for match in pattern.finditer(text):
            new = replace if isinstance(replace, str) else replace(match)
            a, b = match.span()
            if new == text[a:b]:
                continue
            pieces.append(text[last:a])
            starts.extend(self.starts[last:a])
            ends.extend(self.ends[last:a])
            start, end = self._range(a, b)
            pieces.append(new)
            starts.extend([start] * len(new))
            ends.extend([end] * len(new))
            last = b
        if not pieces:
            return self
        pieces.append(text[last:])
        starts.extend(self.starts[last:])
        ends.extend(self.ends[last:])
        return TrackedText("".join(pieces), tuple(starts), tuple(ends))

    def translate(self, table: Mapping[int, str | int | None]) -> TrackedText:
        """``str.translate(table)``, tracked."""

        def replace(match: re.Match[str]) -> str:
            value = table[ord(match.group(0))]
            return "" if value is None else chr(value) if isinstance(value, int) else value

        return self.sub(_character_class(tuple(table)), replace)

    def strip(self) -> TrackedText:
        stripped = self.text.strip()
        if len(stripped) == len(self.text):
            return self
        start = len(self.text) - len(self.text.lstrip())
        return self.slice(start, start + len(stripped))

    def split(self, pattern: re.Pattern[str]) -> Iterator[TrackedText]:
        """The pieces between matches of ``pattern`` (like ``re.split`` without groups)."""
        last = 0
        for match in pattern.finditer(self.text):
            yield self.slice(last, match.start())
            last = match.end()
        yield self.slice(last, len(self.text))

    def _range(self, a: int, b: int) -> tuple[int, int]:
        if a < b:
            return min(self.starts[a:b]), max(self.ends[a:b])
        if a < len(self.starts):  # an insertion: at the next character's source position
            return self.starts[a], self.starts[a]
        position = self.ends[-1] if self.ends else 0
        return position, position


@lru_cache(maxsize=64)
def _character_class(codes: tuple[int, ...]) -> re.Pattern[str]:
    return re.compile("[" + "".join(re.escape(chr(code)) for code in codes) + "]")


_WORD = re.compile(r"\S+")


def spoken_words(visible_source: str, spoken: TrackedText) -> tuple[SpokenWord, ...]:
    """Each word of the user's input that ``spoken`` says, with the span of ``spoken`` that
    says it. ``visible_source`` is the input with markup blanked out (same offsets).

    Words whose spoken parts overlap (one replacement said two source words, "14:30 Uhr")
    become one :class:`SpokenWord`; source words with nothing spoken are left out.
    """
    span = spoken.source_span()
    if span is None:
        return ()
    tokens = [token.span() for token in _WORD.finditer(visible_source, *span)]
    token_ends = [end for _, end in tokens]
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for piece in _WORD.finditer(spoken.text):  # spoken words, each a unit
        i, j = piece.span()
        a, b = min(spoken.starts[i:j]), max(spoken.ends[i:j])
        k = bisect.bisect_right(token_ends, a)  # the first source word ending after a
        while k < len(tokens) and (tokens[k][0] < b or (a == b and tokens[k][0] <= a)):
            first.setdefault(k, i)
            last[k] = j - 1
            k += 1
    found: list[list[int]] = []  # [source_start, source_end, spoken_start, spoken_end]
    for k in sorted(first):
        s, e = tokens[k]
        if found and first[k] < found[-1][3]:  # overlaps the previous word's speech: one word
            found[-1][1] = e
            found[-1][3] = max(found[-1][3], last[k] + 1)
            continue
        found.append([s, e, first[k], last[k] + 1])
    return tuple(SpokenWord(s, e, a, b) for s, e, a, b in found)
