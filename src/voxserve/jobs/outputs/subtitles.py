"""Cues -> WebVTT and SRT subtitles.

One subtitle per cue (cues are never split or merged). Text is whitespace-collapsed and
wrapped at :data:`MAX_LINE_CHARS` characters a line; text that would need more than
:data:`MAX_LINES` lines is wrapped into that many longer lines instead. Cues without text are
left out. Times are rounded to whole milliseconds.

Word granularity (karaoke, :func:`to_word_webvtt`): the same sentence cues, each word preceded
by a WebVTT cue timestamp tag (``<00:00:01.200>word``) saying when it is spoken. Players that
read the tags (browsers style them with ``::cue(:past)`` / ``::cue(:future)``) highlight word
by word; every other player still shows the whole sentence, so the file is never worse than
the sentence one. A tag is written only where it is valid WebVTT: after the cue's start,
before its end and later than the tag before it (the first word starts with the cue). SRT has
no such tags: its word granularity (:func:`to_word_srt`) is one subtitle per word.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence

from voxserve.jobs.outputs.assemble import Cue
from voxserve.jobs.outputs.cue_words import CueWord

MAX_LINE_CHARS = 42
MAX_LINES = 2

_VTT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def to_webvtt(cues: Sequence[Cue]) -> str:
    """A WebVTT file: ``WEBVTT`` header, then ``HH:MM:SS.mmm --> HH:MM:SS.mmm`` blocks.

    ``&``, ``<`` and ``>`` are written as character references (so no ``-->`` in the text).
    """
    blocks = ["WEBVTT\n"]
    for cue, lines in _wrapped(cues):
        timing = f"{_timestamp(cue.start_s, '.')} --> {_timestamp(cue.end_s, '.')}"
        blocks.append("\n".join([timing, *(line.translate(_VTT_ESCAPES) for line in lines)]) + "\n")
    return "\n".join(blocks)


def to_word_webvtt(cues: Sequence[Cue]) -> str:
    """WebVTT with a cue timestamp tag before each word (see the module doc)."""
    blocks = ["WEBVTT\n"]
    for cue, lines in _wrapped(cues):
        timing = f"{_timestamp(cue.start_s, '.')} --> {_timestamp(cue.end_s, '.')}"
        blocks.append("\n".join([timing, *_tagged(cue, lines)]) + "\n")
    return "\n".join(blocks)


def to_word_srt(cues: Sequence[Cue]) -> str:
    """SRT with one subtitle per word (SRT has no inline timestamps)."""
    return to_srt([Cue(word.start_s, word.end_s, word.word, cue.segment_index)
                   for cue in cues for word in cue.words if word.end_s > word.start_s])


def _tagged(cue: Cue, lines: list[str]) -> list[str]:
    """``lines`` escaped, with ``<timestamp>`` before each of the cue's words found in them
    in order (a word not found, or a time that would not be valid, gets no tag)."""
    starts = _tag_positions(cue.words, lines)
    previous = round(cue.start_s * 1000)
    end = round(cue.end_s * 1000)
    tagged = []
    for number, line in enumerate(lines):
        parts: list[str] = []
        at = 0
        for position, word in starts.get(number, []):
            millis = round(word.start_s * 1000)
            if not previous < millis < end:
                continue
            previous = millis
            parts += [line[at:position].translate(_VTT_ESCAPES),
                      f"<{_timestamp(word.start_s, '.')}>"]
            at = position
        parts.append(line[at:].translate(_VTT_ESCAPES))
        tagged.append("".join(parts))
    return tagged


def _tag_positions(
    words: Sequence[CueWord], lines: list[str]
) -> dict[int, list[tuple[int, CueWord]]]:
    """Line number -> (character position, word) of each word found in order."""
    found: dict[int, list[tuple[int, CueWord]]] = {}
    number, at = 0, 0
    for word in words:
        text = " ".join(word.word.split())
        for candidate in range(number, len(lines)):
            position = lines[candidate].find(text, at if candidate == number else 0) if text \
                else -1
            if position >= 0:
                found.setdefault(candidate, []).append((position, word))
                number, at = candidate, position + len(text)
                break
    return found


def to_srt(cues: Sequence[Cue]) -> str:
    """An SRT file: blocks numbered from 1 with ``HH:MM:SS,mmm --> HH:MM:SS,mmm`` timings."""
    blocks = []
    for number, (cue, lines) in enumerate(_wrapped(cues), start=1):
        timing = f"{_timestamp(cue.start_s, ',')} --> {_timestamp(cue.end_s, ',')}"
        blocks.append("\n".join([str(number), timing, *lines]) + "\n")
    return "\n".join(blocks)


def wrap_text(text: str, width: int = MAX_LINE_CHARS, max_lines: int = MAX_LINES) -> list[str]:
    """Lines of ``text`` of at most ``width`` characters, or ``max_lines`` longer lines."""
    lines = textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False)
    if len(lines) <= max_lines:
        return lines
    wider = max(width, math.ceil(len(text) / max_lines))
    while len(lines := textwrap.wrap(text, wider, break_long_words=False)) > max_lines:
        wider += 1
    return lines


def _wrapped(cues: Sequence[Cue]) -> list[tuple[Cue, list[str]]]:
    pairs = [(cue, wrap_text(" ".join(cue.text.split()))) for cue in cues]
    return [(cue, lines) for cue, lines in pairs if lines]


def _timestamp(seconds: float, separator: str) -> str:
    millis = max(0, round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    whole, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{whole:02d}{separator}{millis:03d}"
