"""Split text into segments a TTS engine synthesises one at a time.

Paragraph breaks always end a segment; pysbd finds sentence boundaries inside a paragraph;
sentences longer than the limit are split at the best clause boundaries (falling back to word
boundaries, then to hard cuts inside a giant token).

Segments are always contiguous slices of the (whitespace-collapsed) input, so nothing is lost
even where pysbd rewrites or drops text (known pysbd issues): its sentences are only used to
locate boundaries.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from functools import cache

import pysbd
from pysbd.languages import LANGUAGE_CODES

from voxserve.text.normalize import normalize_text

logger = logging.getLogger(__name__)

_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
# pysbd's abbreviation pass is superlinear on some texts; feed it windows of bounded size
# (at least this, and at least twice the segment limit so a forced window cut only ever falls
# inside a sentence that has to be split anyway).
_WINDOW_CHARS = 3000

# Break costs: clause punctuation is free, commas cheap, conjunctions and plain spaces dearer,
# cutting inside a word a last resort. Each piece also costs PIECE plus its squared slack, so
# fewer, fuller and more even pieces win.
_STRONG, _COMMA, _CONJUNCTION, _WORD, _HARD = 0.0, 0.25, 4.0, 8.0, 1000.0
_PIECE = 1.0
_BREAKS: tuple[tuple[re.Pattern[str], float, bool], ...] = (
    # (pattern, cost, break before the match instead of after it)
    (re.compile(r"[;:)\]](?= )|[—–]| -(?= )"), _STRONG, False),
    (re.compile(r"(?<= )[(\[]"), _STRONG, True),
    (re.compile(r",(?= )"), _COMMA, False),
    (
        re.compile(r" (?=(?:and|but|or|so|yet|because|which|while|whereas|although|when)\b)"),
        _CONJUNCTION,
        True,
    ),
    (re.compile(r" "), _WORD, True),
)
_TOKEN = re.compile(r"\S+")
# Characters after which pysbd may end a sentence, in any language it supports (Greek also
# ends questions with ";").
_TERMINALS = ".!?…。！？｡．।॥؟۔։။።"
_TERMINAL = re.compile(f"[{re.escape(_TERMINALS)}]")
_GREEK_TERMINAL = re.compile(f"[{re.escape(_TERMINALS)};]")
_CLOSING = "\"')]}»”’ "


def prepare_segments(text: str, max_segment_chars: int = 400, language: str = "en") -> list[str]:
    """Raw input -> list of normalized, speakable segments (what the engine gets, one at a time).

    Normalizes first, then segments: expansion removes the periods in "Dr.", "p.m.", "$5.50" and
    "3.5" that would otherwise confuse sentence detection (a sentence-final abbreviation keeps
    its period), and the length limit is enforced on the text the engine actually receives.
    """
    return split_segments(normalize_text(text, language), max_segment_chars, language)


def split_segments(text: str, max_segment_chars: int = 400, language: str = "en") -> list[str]:
    """Split ``text`` into sentences, none longer than ``max_segment_chars`` characters.

    Paragraph breaks ("\\n\\n") are always boundaries. Whitespace inside a segment is collapsed
    to single spaces, and segments with nothing to say (only punctuation or symbols) are dropped.
    Raises ValueError if ``max_segment_chars`` is less than 1.
    """
    if max_segment_chars < 1:
        raise ValueError(f"max_segment_chars must be at least 1, got {max_segment_chars}")
    segments: list[str] = []
    for paragraph in _PARAGRAPH_BREAK.split(text):
        window = max(_WINDOW_CHARS, 2 * max_segment_chars)
        for sentence in _sentences(" ".join(paragraph.split()), language, window):
            segments.extend(_fit(sentence, max_segment_chars))
    return [segment for segment in segments if _is_speakable(segment)]


def _is_speakable(segment: str) -> bool:
    """True if the segment has at least one letter or digit."""
    return any(char.isalnum() for char in segment)


# --- sentence boundaries --------------------------------------------------------------------


@cache
def _segmenter(code: str) -> pysbd.Segmenter:
    """One shared pysbd segmenter per supported language code.

    Only ``Segmenter.processor`` is used: it builds a fresh Processor per call and never writes
    to the segmenter, so sharing one across threads is safe (``Segmenter.segment`` is not: it
    stores the text on the instance, and its span lookup is quadratic).
    """
    return pysbd.Segmenter(language=code, clean=False)


#: Languages pysbd lacks, read with a close one's rules (Portuguese with Spanish).
_PYSBD_NEAREST = {"pt": "es", "gl": "es", "ca": "es"}


def _pysbd_code(language: str) -> str:
    """pysbd language code for a tag like "en-US"; English rules for languages pysbd lacks."""
    code = language.strip().lower().replace("_", "-").split("-")[0]
    code = _PYSBD_NEAREST.get(code, code)
    return code if code in LANGUAGE_CODES else "en"


def _sentences(paragraph: str, language: str, window_chars: int) -> list[str]:
    """Sentences of a one-line paragraph, as stripped contiguous slices of it.

    pysbd sees at most ``window_chars`` at a time; a window with no complete sentence is cut at
    its last space.
    """
    if _is_one_sentence(paragraph, _pysbd_code(language)):
        return [paragraph] if paragraph else []
    boundaries: list[int] = []
    start = 0
    while len(paragraph) - start > window_chars:
        window = paragraph[start : start + window_chars]
        # The window's last sentence may continue past its edge: keep only the ones before it.
        complete = _sentence_ends(window, language)[:-1]
        boundaries.extend(start + end for end in complete)
        cut = complete[-1] if complete else _last_space(window)
        if not complete:
            boundaries.append(start + cut)
        start += cut
    boundaries.extend(start + end for end in _sentence_ends(paragraph[start:], language))
    boundaries.append(len(paragraph))
    pieces = (paragraph[a:b].strip() for a, b in zip([0, *boundaries], boundaries, strict=False))
    return [piece for piece in pieces if piece]


def _is_one_sentence(paragraph: str, code: str) -> bool:
    """True when no sentence terminal occurs before the paragraph's end, so pysbd can be skipped."""
    terminal = _GREEK_TERMINAL if code == "el" else _TERMINAL
    trailing = _TERMINALS + _CLOSING + (";" if code == "el" else "")
    return terminal.search(paragraph.rstrip(trailing)) is None


def _last_space(window: str) -> int:
    """Where to cut a window that holds no complete sentence: its last space, else its end."""
    position = window.rfind(" ")
    return position if position > 0 else len(window)


def _sentence_ends(text: str, language: str) -> list[int]:
    """End offsets in ``text`` of the sentences pysbd finds there, in order.

    A sentence pysbd altered cannot be found and is skipped, so its text simply joins the next
    slice.
    """
    ends: list[int] = []
    position = 0
    for sentence in _pysbd_sentences(text, language):
        core = sentence.strip()
        found = text.find(core, position) if core else -1
        if found >= 0:
            position = found + len(core)
            ends.append(position)
    return ends


def _pysbd_sentences(text: str, language: str) -> list[str]:
    """pysbd's sentences for ``text``; on a pysbd failure the whole text is one sentence."""
    if not text.strip():
        return []
    try:
        sentences = _segmenter(_pysbd_code(language)).processor(text).process()
        return [str(sentence) for sentence in sentences]
    except Exception:
        logger.warning("pysbd failed on a %d-char text; not splitting it", len(text), exc_info=True)
        return [text]


# --- over-long sentences --------------------------------------------------------------------


@dataclass
class _Best:
    """Cheapest known way to split the text up to one break position."""

    cost: float
    previous: int


def _fit(sentence: str, limit: int) -> list[str]:
    """Split a one-line sentence into pieces of at most ``limit`` chars at the cheapest breaks."""
    if len(sentence) <= limit:
        return [sentence]
    positions, break_costs = _break_candidates(sentence, limit)
    best: list[_Best | None] = [_Best(0.0, -1)] + [None] * (len(positions) - 1)
    first = 0
    for k in range(1, len(positions)):
        while positions[k] - positions[first] > limit + 2:
            first += 1
        for j in range(first, k):
            length = _stripped_length(sentence, positions[j], positions[k])
            known = best[j]
            if known is None or not 0 < length <= limit:
                continue
            cost = known.cost + break_costs[k] + _PIECE + ((limit - length) / limit) ** 2
            current = best[k]
            if current is None or cost < current.cost:
                best[k] = _Best(cost, j)
    return _backtrack(sentence, positions, best)


def _backtrack(sentence: str, positions: list[int], best: list[_Best | None]) -> list[str]:
    """Read the chosen pieces back from the dynamic-programming table."""
    pieces: list[str] = []
    k = len(positions) - 1
    while k > 0:
        entry = best[k]
        assert entry is not None, "every position is reachable: tokens are cut to fit"
        pieces.append(sentence[positions[entry.previous] : positions[k]].strip())
        k = entry.previous
    return [piece for piece in reversed(pieces) if piece]


def _stripped_length(sentence: str, start: int, end: int) -> int:
    """Length of ``sentence[start:end].strip()`` for single-spaced text, without slicing."""
    if end <= start:
        return 0
    return end - start - (sentence[start] == " ") - (sentence[end - 1] == " ")


def _break_candidates(sentence: str, limit: int) -> tuple[list[int], list[float]]:
    """Sorted break offsets (0 and len included) and the cost of breaking at each."""
    costs: dict[int, float] = {0: 0.0, len(sentence): 0.0}
    for pattern, cost, before in _BREAKS:
        for match in pattern.finditer(sentence):
            offset = match.start() if before else match.end()
            if 0 < offset < len(sentence):
                costs[offset] = min(cost, costs.get(offset, math.inf))
    for token in _TOKEN.finditer(sentence):
        for offset in _hard_cuts(token.start(), token.end(), limit):
            costs.setdefault(offset, _HARD)
    positions = sorted(costs)
    return positions, [costs[p] for p in positions]


def _hard_cuts(start: int, end: int, limit: int) -> list[int]:
    """Evenly spaced cut offsets splitting a token longer than ``limit`` into fitting chunks."""
    length = end - start
    if length <= limit:
        return []
    chunks = math.ceil(length / limit)
    size = math.ceil(length / chunks)
    return [start + i * size for i in range(1, chunks)]
