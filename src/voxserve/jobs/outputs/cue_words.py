"""Word times of a project's segments, and the same words in chapter and book time.

A synthesized segment keeps its words' times relative to its own raw PCM (the ``words``
column of its row, JSON ``[{"word", "start_s", "end_s", "estimated"}]``, written by
:mod:`voxserve.jobs.work.synthesis` from the engine's alignment). Assembly moves them
exactly as it moves the segment's cue: :func:`placed_words` follows the joiner's trim (what
it dropped at the start maps to the cue's start, what it dropped at the end to the cue's
end) and the cue's position in the chapter; the book adds the chapter's start
(:func:`shifted_words`). A segment without aligned times (an engine that cannot align, such
as Maya1; rows written before word times were kept) gets :func:`estimated_words`: the cue's
span shared by the characters of its words, marked ``estimated``. Times are rounded to
milliseconds.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from voxserve.text.word_timing import estimate_words, fallback_words


@dataclass(frozen=True, slots=True)
class CueWord:
    """One of the user's words and when the audio says it (seconds)."""

    word: str
    start_s: float
    end_s: float
    #: shared by characters, not aligned by the engine
    estimated: bool = False

    def as_dict(self) -> dict[str, object]:
        return {"word": self.word, "start_s": self.start_s, "end_s": self.end_s,
                "estimated": self.estimated}


def words_to_json(words: Sequence[CueWord]) -> str:
    return json.dumps([word.as_dict() for word in words], ensure_ascii=False)


def words_from_json(raw: str | None) -> tuple[CueWord, ...] | None:
    """The stored words, or None (no column value, or one that cannot be read)."""
    if not raw:
        return None
    try:
        return words_from_dicts(json.loads(raw))
    except (ValueError, TypeError, KeyError):
        return None


def words_from_dicts(items: Iterable[dict[str, object]]) -> tuple[CueWord, ...]:
    """Words back from :meth:`CueWord.as_dict` values (``ValueError``/``KeyError`` if not)."""
    return tuple(
        CueWord(str(item["word"]), float(str(item["start_s"])), float(str(item["end_s"])),
                bool(item.get("estimated", False)))
        for item in items
    )


def placed_words(
    words: Sequence[CueWord], *, first: int, kept: int, position: int, rate: int
) -> tuple[CueWord, ...]:
    """A segment's words (times in its raw audio at ``rate``) where assembly put it: raw
    sample ``first`` is chapter sample ``position`` and ``kept`` samples follow."""
    placed: list[CueWord] = []
    previous = position
    for word in words:
        start = position + min(max(round(word.start_s * rate) - first, 0), kept)
        end = position + min(max(round(word.end_s * rate) - first, 0), kept)
        start = max(start, previous)
        end = max(end, start)
        previous = start
        placed.append(CueWord(word.word, round(start / rate, 3), round(end / rate, 3),
                              word.estimated))
    return tuple(placed)


def estimated_words(text: str, start_s: float, end_s: float) -> tuple[CueWord, ...]:
    """The white-space words of ``text`` over ``[start_s, end_s]``, shared by characters."""
    words = fallback_words(text)
    times = estimate_words(text, words, max(0.0, end_s - start_s))
    return tuple(
        CueWord(text[w.spoken_start:w.spoken_end], round(start_s + a, 3),
                round(start_s + b, 3), True)
        for w, (a, b) in zip(words, times, strict=True)
    )


def shifted_words(words: Sequence[CueWord], by_s: float) -> tuple[CueWord, ...]:
    return tuple(CueWord(w.word, round(w.start_s + by_s, 3), round(w.end_s + by_s, 3),
                         w.estimated) for w in words)
