"""Cues -> WebVTT and SRT subtitles.

One subtitle per cue (cues are never split or merged). Text is whitespace-collapsed and
wrapped at :data:`MAX_LINE_CHARS` characters a line; text that would need more than
:data:`MAX_LINES` lines is wrapped into that many longer lines instead. Cues without text are
left out. Times are rounded to whole milliseconds.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence

from voxserve.jobs.outputs.assemble import Cue

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
