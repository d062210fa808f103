"""The text step's one entry point: what the user wrote -> the segments an engine speaks.

:func:`prepare` takes plain text or SSML (a ``<speak>`` root is detected) and
:class:`TextOptions` (the voice's language, what its engine accepts, the lexicon) and returns a
:class:`TextPlan`: segments of spoken text, each with the span of the user's input it says
(``source_start``/``source_end``, ``source_text``), the words in it (:class:`SpokenWord`), the
pause after it, its speaking rate and language.

Plain text: paragraphs, then runs: ``[[ phonemes ]]`` (engines with phoneme input) and the
engine's own tags (Maya1's ``<laugh>``) go to the engine untouched, lexicon words become their
alias or phonemes, everything else is normalized in the voice's language; sentences are split
with pysbd. Other angle-bracket text is never read as markup.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from voxserve.errors import PhonemesUnsupported
from voxserve.text.first_chunk import first_clause_end
from voxserve.text.lexicon import Lexicon
from voxserve.text.normalize import normalize_tracked
from voxserve.text.numbers.languages import base_language, spec_for
from voxserve.text.numbers.spelling import (
    resolve_language,
    spell_cardinal,
    spell_digits,
    spell_ordinal,
)
from voxserve.text.segment import split_segments
from voxserve.text.ssml import Block, Run, looks_like_ssml, parse_ssml
from voxserve.text.tracked import TrackedText, spoken_words
from voxserve.text.words import SpokenWord

InputType = Literal["auto", "text", "ssml"]

_PHONEMES = re.compile(r"\[\[(.*?)\]\]", re.S)
_PARAGRAPH = re.compile(r"\n[^\S\n]*\n\s*|\u2029")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class TextOptions:
    """How to read a text: its language and what the voice's engine accepts."""

    language: str = "en"
    #: "auto": SSML when the input's root is <speak>, else plain text
    input_type: InputType = "auto"
    lexicon: Lexicon | None = None
    #: the engine takes ``[[ phonemes ]]`` (Piper)
    phonemes: bool = False
    #: ``[[ ... ]]`` in plain text is phoneme input (documents: False, it is text)
    inline_phonemes: bool = True
    #: tags the engine reads itself (Maya1's "<laugh>"), passed through untouched
    engine_tags: tuple[str, ...] = ()
    #: other languages the voice can speak (SSML <lang>)
    languages: tuple[str, ...] = ()
    max_segment_chars: int = 400
    #: a first sentence of at least this many words is spoken in two parts, cut at a clause
    #: boundary, so its first audio comes sooner (interactive requests); 0: never
    first_chunk_min_words: int = 0


@dataclass(frozen=True, slots=True)
class Segment:
    """One piece the engine speaks at a time, and where it came from."""

    #: what the engine reads
    text: str
    #: char offsets of what it says in the user's input
    source_start: int
    source_end: int
    #: the user's words it says (markup removed, whitespace collapsed): subtitles, cues
    source_text: str
    #: silence after it (SSML break), None: the usual pause between sentences
    pause_after_ms: int | None = None
    #: speaking rate (SSML prosody rate), multiplies the request's speed
    rate: float = 1.0
    language: str = "en"
    words: tuple[SpokenWord, ...] = ()


@dataclass(frozen=True, slots=True)
class TextPlan:
    segments: tuple[Segment, ...]
    language: str
    ssml: bool = False
    #: silence before the first segment (an SSML break before any text)
    leading_pause_ms: int = 0

    @property
    def texts(self) -> tuple[str, ...]:
        return tuple(segment.text for segment in self.segments)


def prepare(text: str, options: TextOptions | None = None) -> TextPlan:
    """Read ``text`` into a :class:`TextPlan` (see the module doc).

    Raises ``InvalidSsml`` for SSML it cannot speak and ``PhonemesUnsupported`` for inline
    phonemes to an engine without phoneme input.
    """
    options = options or TextOptions()
    ssml = options.input_type == "ssml" or (
        options.input_type == "auto" and looks_like_ssml(text)
    )
    tags = frozenset(tag.strip("<>/") for tag in options.engine_tags)
    leading = 0
    if ssml:
        parsed = parse_ssml(
            text, language=options.language, languages=options.languages,
            phonemes=options.phonemes, engine_tags=tags,
        )
        blocks, visible, leading = parsed.blocks, parsed.visible, parsed.leading_pause_ms
    else:
        blocks = list(_plain_blocks(text, options.language))
        visible = _blank(text, _markup(options.engine_tags, options.inline_phonemes))
    segments: list[Segment] = []
    for block in blocks:
        segments += _block_segments(block, options, visible, ssml, split_first=not segments)
    return TextPlan(tuple(segments), options.language, ssml, leading)


def _plain_blocks(text: str, language: str) -> Iterator[Block]:
    for paragraph in TrackedText.of(text).split(_PARAGRAPH):
        if paragraph.text.strip():
            yield Block([Run("text", paragraph)], language=language)


def _markup(engine_tags: tuple[str, ...], phonemes: bool) -> re.Pattern[str]:
    """Phoneme brackets and the engine's tags: passed through, not shown in subtitles."""
    alternatives = [re.escape(f"<{tag.strip('<>/')}>") for tag in engine_tags]
    if phonemes:
        alternatives += [r"\[\[", r"\]\]"]
    return re.compile("|".join(alternatives) or r"(?!)")


def _blank(text: str, pattern: re.Pattern[str]) -> str:
    return pattern.sub(lambda match: " " * len(match.group(0)), text)


def _runs(run: Run, options: TextOptions) -> Iterator[Run]:
    """A text run cut into phoneme blocks, engine tags, lexicon words and the text between."""
    if run.kind != "text" or run.interpret_as is not None:
        yield run
        return
    alternatives = [re.escape(f"<{tag.strip('<>/')}>") for tag in options.engine_tags]
    if options.inline_phonemes:
        alternatives.insert(0, _PHONEMES.pattern)
    if not alternatives:
        yield from _lexicon_runs(run.text, options)
        return
    pattern = re.compile("|".join(alternatives), re.S)
    text = run.text
    last = 0
    for match in pattern.finditer(text.text):
        yield from _lexicon_runs(text.slice(last, match.start()), options)
        piece = text.slice(*match.span()).sub(_SPACES, " ")
        if match.group(0).startswith("[[") and not options.phonemes:
            raise PhonemesUnsupported(
                "this voice's engine takes no [[ phoneme ]] input", param="input"
            )
        yield Run("verbatim", piece)
        last = match.end()
    yield from _lexicon_runs(text.slice(last, len(text)), options)


def _lexicon_runs(text: TrackedText, options: TextOptions) -> Iterator[Run]:
    lexicon = options.lexicon
    pattern = lexicon.pattern if lexicon is not None else None
    if pattern is None or lexicon is None:
        yield Run("text", text)
        return
    last = 0
    for match in pattern.finditer(text.text):
        entry = lexicon.by_grapheme[match.group(0)]
        span = text.source_span(*match.span())
        assert span is not None
        if entry.phonemes and options.phonemes:
            said = Run("verbatim", TrackedText.spanning(f"[[ {entry.phonemes} ]]", *span))
        elif entry.alias:
            said = Run("text", TrackedText.spanning(entry.alias, *span))
        else:
            continue  # phonemes only, and the engine takes none: leave the word
        yield Run("text", text.slice(last, match.start()))
        yield said
        last = match.end()
    yield Run("text", text.slice(last, len(text)))


def _block_segments(
    block: Block, options: TextOptions, visible: str, ssml: bool, *, split_first: bool = False
) -> list[Segment]:
    language = block.language or options.language
    pieces: list[TrackedText] = []
    protected: list[tuple[int, int]] = []
    length = 0
    for outer in block.runs:
        for run in _runs(outer, options):
            before = pieces[-1].text.rsplit(" ", 1)[-1].lower() if pieces else ""
            said = _say(run, language, before)
            if not said.text:
                continue
            if pieces:
                end = pieces[-1].ends[-1]
                pieces.append(TrackedText.spanning(" ", end, end))
                length += 1
            if run.kind == "verbatim":
                protected.append((length, length + len(said)))
            pieces.append(said)
            length += len(said)
    if not pieces:
        return []
    paragraph = TrackedText.join(pieces)
    spans = _locate(paragraph.text, options.max_segment_chars, language, protected)
    pauses: dict[int, int] = {}
    if split_first and spans:
        start, end = spans[0]
        cut = first_clause_end(paragraph.text, start, end, language, protected=protected,
                               min_words=options.first_chunk_min_words)
        if cut is not None:
            spans[0:1] = [(start, cut.first_end), (cut.rest_start, end)]
            pauses[0] = cut.pause_ms
    segments = []
    for index, (start, end) in enumerate(spans):
        spoken = paragraph.slice(start, end)
        span = spoken.source_span()
        assert span is not None
        shown = " ".join(visible[span[0] : span[1]].split())
        segments.append(Segment(
            text=spoken.text, source_start=span[0], source_end=span[1],
            source_text=html.unescape(shown) if ssml else shown, rate=block.rate,
            language=language, words=spoken_words(visible, spoken),
            pause_after_ms=pauses.get(index),
        ))
    if segments and block.pause_after_ms is not None:
        last = segments[-1]
        segments[-1] = Segment(
            last.text, last.source_start, last.source_end, last.source_text,
            block.pause_after_ms, last.rate, last.language, last.words,
        )
    return segments


def _locate(
    text: str, max_chars: int, language: str, protected: list[tuple[int, int]]
) -> list[tuple[int, int]]:
    """Offsets of the sentences of single-spaced ``text``; no cut inside a protected range."""
    spans: list[tuple[int, int]] = []
    cursor = 0
    for piece in split_segments(text, max_chars, language):
        start = text.find(piece, cursor)
        if start < 0:  # cannot happen: segments are slices of the text; keep going safely
            continue
        end = start + len(piece)
        cursor = end
        if spans and any(a < start < b or a < spans[-1][1] < b for a, b in protected):
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((start, end))
    return spans


# --- say-as and the other pre-read runs -------------------------------------------------

_DIGITS = re.compile(r"\d+")
_DATE_PARTS = re.compile(r"\d+")


def _say(run: Run, language: str, before: str = "") -> TrackedText:
    """The spoken form of one run."""
    if run.kind == "verbatim":
        return run.text
    if run.kind == "text" and run.interpret_as is None:
        paragraphs = normalize_tracked(run.text, language)
        if len(paragraphs) > 1:
            joined: list[TrackedText] = []
            for paragraph in paragraphs:
                if joined:
                    end = joined[-1].ends[-1]
                    joined.append(TrackedText.spanning(" ", end, end))
                joined.append(paragraph)
            return TrackedText.join(joined)
        return paragraphs[0] if paragraphs else TrackedText.of("")
    span = run.text.source_span()
    said = _interpret(run, language, before) if run.interpret_as else run.text.text
    said = " ".join(said.split())
    if span is None:
        return TrackedText.of("")
    if run.interpret_as is None:  # an alias: normalize it as text, all of it said for the span
        aliased = normalize_tracked(TrackedText.spanning(said, *span), language)
        return aliased[0] if aliased else TrackedText.of("")
    return TrackedText.spanning(said, *span)


def _interpret(run: Run, language: str, before: str) -> str:
    """<say-as interpret-as=...>: the words to say."""
    text = " ".join(run.text.text.split())
    lang = resolve_language(language) or "en"
    kind = run.interpret_as
    if kind in ("characters", "spell-out"):
        return " ".join(
            (spell_digits(char, lang) or char) if char.isdecimal() else char
            for char in text if not char.isspace()
        )
    if kind in ("cardinal", "number"):
        return _DIGITS.sub(lambda m: spell_cardinal(m.group(0), lang) or m.group(0), text)
    if kind == "ordinal":
        return _DIGITS.sub(lambda m: spell_ordinal(m.group(0), lang) or m.group(0), text)
    if kind in ("telephone", "digits"):
        groups = [spell_digits(g, lang) or g for g in _DIGITS.findall(text)]
        return ", ".join(groups)
    if kind == "date":
        return _date(text, run.format, language, before)
    return text


def _date(text: str, fmt: str | None, language: str, before: str) -> str:
    parts = [int(part) for part in _DATE_PARTS.findall(text)]
    spec = spec_for(language)
    order = (fmt or ("mdy" if base_language(language) == "en" else
                     spec.date_order if spec else "dmy")).lower()
    values = dict(zip(order, parts, strict=False))
    day, month, year = values.get("d"), values.get("m"), values.get("y")
    if month is None or not 1 <= month <= 12 or (day is not None and not 1 <= day <= 31):
        return text
    if spec is not None and day is not None:
        return spec.date(day, month, year, before)
    if base_language(language) == "en":
        iso = f"{year or 2000:04d}-{month:02d}-{day or 1:02d}"
        said = normalize_tracked(TrackedText.of(iso), "en")
        return said[0].text if said else text
    return text
