"""The SSML subset voxserve speaks, parsed into blocks of runs with their source offsets.

Parsing uses defusedxml's expat parser with DTDs forbidden, so there are no entity
declarations (no "billion laughs") and no external entities (no XXE); elements are handled
from events without recursion, and nesting deeper than :data:`MAX_DEPTH` is refused.

Elements: ``speak`` (the root), ``break`` (``time`` or ``strength``), ``p``, ``s``,
``say-as`` (``interpret-as`` characters/spell-out, cardinal/number, ordinal, date, telephone),
``sub`` (``alias``), ``phoneme`` (``alphabet="ipa"``, ``ph``), ``prosody`` (``rate``; other
attributes are accepted and ignored), ``lang`` (``xml:lang``), ``emphasis`` and ``mark``
(accepted; they change nothing), and the engine's own tags as empty elements (Maya1's
``<laugh/>``). ``audio`` and every other element are refused with :class:`InvalidSsml`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser, ParseError

from voxserve.errors import InvalidSsml
from voxserve.text.numbers.languages import base_language
from voxserve.text.tracked import TrackedText

MAX_DEPTH = 64
MAX_BREAK_MS = 10_000
MIN_RATE, MAX_RATE = 0.25, 4.0
_STRENGTH_MS = {"none": 0, "x-weak": 100, "weak": 250, "medium": 500, "strong": 750,
                "x-strong": 1000}
_RATE_WORDS = {"x-slow": 0.6, "slow": 0.8, "medium": 1.0, "default": 1.0, "fast": 1.25,
               "x-fast": 1.5}
_TIME = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ms|s)\s*")
_PERCENT = re.compile(r"\s*([+-]?)(\d+(?:\.\d+)?)%\s*")
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_SAY_AS = frozenset({"characters", "spell-out", "cardinal", "number", "ordinal", "date",
                     "telephone", "digits"})

RunKind = Literal["text", "verbatim", "spoken"]


@dataclass(frozen=True, slots=True)
class Run:
    """A piece of a block: ``text`` is normalized; ``spoken`` is already what to say (an
    alias, a say-as reading); ``verbatim`` goes to the engine as is (phonemes, engine tags)."""

    kind: RunKind
    text: TrackedText
    #: say-as: how to read it (the runs of kind "text" with this set are read that way)
    interpret_as: str | None = None
    format: str | None = None


@dataclass(slots=True)
class Block:
    """Runs spoken together, then ``pause_after_ms`` of silence (None: the usual pause)."""

    runs: list[Run] = field(default_factory=list)
    rate: float = 1.0
    language: str = ""
    pause_after_ms: int | None = None


@dataclass(frozen=True, slots=True)
class ParsedSsml:
    blocks: list[Block]
    #: the input with every piece of markup blanked out (same offsets): the user's words
    visible: str
    #: silence before the first block (a leading break)
    leading_pause_ms: int


def looks_like_ssml(text: str) -> bool:
    """True when the input's root element is ``<speak>`` (after an XML declaration, comments
    or a doctype, which the parser then refuses)."""
    return _SSML_START.match(text) is not None


_SSML_START = re.compile(
    r"\s*(?:<\?xml[^>]*\?>\s*)?(?:<!--.*?-->\s*)*"
    r"(?:<!DOCTYPE\s+speak\b[^\[>]*(?:\[.*?\])?\s*>\s*)?<speak[\s>/]",
    re.S,
)


@dataclass(slots=True)
class _Frame:
    tag: str
    rate: float
    language: str
    #: the element replaces its content: collected text, or None when content is spoken
    collect: list[tuple[str, int, int]] | None = None
    attrs: dict[str, str] = field(default_factory=dict)
    start: int = 0


class _Builder:
    """expat events -> blocks (the parser's target)."""

    def __init__(
        self, source: str, language: str, languages: tuple[str, ...], phonemes: bool,
        engine_tags: frozenset[str],
    ) -> None:
        self.source = source
        self.offsets = _char_offsets(source)
        self.language = language
        self.languages = frozenset(base_language(code) for code in (language, *languages))
        self.phonemes = phonemes
        self.engine_tags = engine_tags
        self.blocks: list[Block] = []
        self.stack: list[_Frame] = []
        self.leading_pause_ms = 0
        self.markup: list[tuple[int, int]] = []  # char ranges of tags
        self.position: Callable[[], int] = lambda: 0
        self._pending: tuple[str, int] | None = None  # text chunk waiting for its end offset

    # --- the target interface -------------------------------------------------------

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        here = self._here()
        self._flush(here)
        name = tag
        if name.startswith("{"):
            raise InvalidSsml(f"SSML element {tag!r} is not supported (no namespaces but xml:)")
        if len(self.stack) >= MAX_DEPTH:
            raise InvalidSsml(f"SSML nests deeper than {MAX_DEPTH} elements")
        parent = self.stack[-1] if self.stack else None
        if parent is None and name != "speak":
            raise InvalidSsml("the SSML root element must be <speak>")
        if parent is not None and parent.collect is not None:
            raise InvalidSsml(f"<{parent.tag}> may only hold text, not <{name}>")
        frame = _Frame(name, parent.rate if parent else 1.0,
                       parent.language if parent else self.language, attrs=attrs, start=here)
        self._element(frame, attrs)
        self.stack.append(frame)

    def end(self, tag: str) -> None:
        here = self._here()
        self._flush(here)
        frame = self.stack.pop()
        if frame.collect is not None:
            self._close_collecting(frame)
        if frame.tag in ("p", "s", "prosody", "lang"):
            self._boundary()

    def data(self, text: str) -> None:
        here = self._here()
        self._flush(here)
        self._pending = (text, here)

    def close(self) -> None:
        self._flush(len(self.source))

    # --- elements -------------------------------------------------------------------

    def _element(self, frame: _Frame, attrs: dict[str, str]) -> None:
        name = frame.tag
        if name == "speak":
            if self.stack:
                raise InvalidSsml("<speak> must be the root element only")
        elif name == "break":
            self._break(attrs)
        elif name in ("p", "s"):
            self._boundary()
        elif name == "prosody":
            self._boundary()
            if "rate" in attrs:
                frame.rate = _clamp_rate(frame.rate * _rate(attrs["rate"]))
        elif name == "lang":
            self._boundary()
            wanted = attrs.get(_XML_LANG) or attrs.get("lang")
            if not wanted:
                raise InvalidSsml("<lang> needs an xml:lang attribute")
            if base_language(wanted) in self.languages:
                frame.language = wanted
        elif name == "say-as":
            kind = attrs.get("interpret-as", "")
            if kind not in _SAY_AS:
                known = ", ".join(sorted(_SAY_AS))
                raise InvalidSsml(f"say-as interpret-as={kind!r} is not supported ({known})")
            frame.collect = []
        elif name == "sub":
            if "alias" not in attrs:
                raise InvalidSsml("<sub> needs an alias attribute")
            frame.collect = []
        elif name == "phoneme":
            alphabet = attrs.get("alphabet", "ipa")
            if alphabet != "ipa":
                raise InvalidSsml(f"phoneme alphabet {alphabet!r} is not supported (ipa)")
            if not attrs.get("ph", "").strip():
                raise InvalidSsml("<phoneme> needs a ph attribute")
            frame.collect = []
        elif name in ("emphasis", "mark"):
            pass
        elif name in self.engine_tags:
            self._append(Run("verbatim", TrackedText.spanning(f"<{name}>", frame.start,
                                                              frame.start)))
        elif name == "audio":
            raise InvalidSsml("<audio> is not supported")
        else:
            raise InvalidSsml(f"SSML element <{name}> is not supported")

    def _close_collecting(self, frame: _Frame) -> None:
        pieces = frame.collect or []
        inner = TrackedText.join([_chunk(text, start, end) for text, start, end in pieces]) \
            if pieces else TrackedText.of("")
        span = inner.source_span() or (frame.start, frame.start)
        if frame.tag == "sub":
            self._append(Run("spoken", TrackedText.spanning(frame.attrs["alias"], *span)))
        elif frame.tag == "phoneme":
            if self.phonemes:
                ph = " ".join(frame.attrs["ph"].split())
                self._append(Run("verbatim", TrackedText.spanning(f"[[ {ph} ]]", *span)))
            else:  # an engine without phoneme input says the text instead
                self._append(Run("text", inner))
        else:
            self._append(Run("text", inner, frame.attrs["interpret-as"],
                             frame.attrs.get("format")))

    def _break(self, attrs: dict[str, str]) -> None:
        if "time" in attrs:
            match = _TIME.fullmatch(attrs["time"])
            if match is None:
                raise InvalidSsml(f"break time={attrs['time']!r} is not a time (500ms, 1.5s)")
            value = float(match[1]) * (1000 if match[2] == "s" else 1)
            pause = round(value)
        else:
            strength = attrs.get("strength", "medium")
            if strength not in _STRENGTH_MS:
                raise InvalidSsml(f"break strength={strength!r} is not supported")
            pause = _STRENGTH_MS[strength]
        if pause > MAX_BREAK_MS:
            raise InvalidSsml(f"a break is at most {MAX_BREAK_MS} ms")
        block = self._current_block(create=False)
        if block is None:
            self.leading_pause_ms += pause
            return
        block.pause_after_ms = (block.pause_after_ms or 0) + pause
        self._boundary()

    # --- blocks ---------------------------------------------------------------------

    def _boundary(self) -> None:
        """The next run starts a new block."""
        if self.blocks and self.blocks[-1].runs:
            self.blocks.append(Block())

    def _current_block(self, create: bool = True) -> Block | None:
        if not self.blocks:
            if not create:
                return None
            self.blocks.append(Block())
        block = self.blocks[-1]
        if not block.runs and not create:
            # An empty block after a boundary: the pause belongs to the one before it.
            return self.blocks[-2] if len(self.blocks) > 1 else None
        return block

    def _append(self, run: Run) -> None:
        frame = self.stack[-1] if self.stack else None
        block = self._current_block()
        assert block is not None
        rate = frame.rate if frame else 1.0
        language = frame.language if frame else self.language
        if block.runs and (block.rate != rate or block.language != language):
            self.blocks.append(block := Block())
        block.rate, block.language = rate, language
        block.runs.append(run)

    def _flush(self, end: int) -> None:
        """The pending text chunk ends at ``end``: add it."""
        if self._pending is None:
            return
        text, start = self._pending
        self._pending = None
        frame = self.stack[-1] if self.stack else None
        if frame is None:
            return
        if frame.collect is not None:
            frame.collect.append((text, start, end))
        elif text.strip() or (self.blocks and self.blocks[-1].runs):
            self._append(Run("text", _chunk(text, start, end)))

    def _here(self) -> int:
        return self.offsets(self.position())


def _chunk(text: str, start: int, end: int) -> TrackedText:
    """A text chunk from source ``[start, end)``: char by char when it was written as is,
    else (an entity reference such as ``&amp;``) as a whole."""
    if end - start == len(text):
        return TrackedText.of(text, start)
    return TrackedText.spanning(text, start, end)


def _char_offsets(source: str) -> Callable[[int], int]:
    """UTF-8 byte offset -> char offset in ``source``."""
    if source.isascii():
        return lambda byte: byte
    table: list[int] = []
    for index, char in enumerate(source):
        table.extend([index] * len(char.encode("utf-8")))
    table.append(len(source))
    return lambda byte: table[min(byte, len(table) - 1)]


def _rate(value: str) -> float:
    value = value.strip()
    if value in _RATE_WORDS:
        return _RATE_WORDS[value]
    match = _PERCENT.fullmatch(value)
    if match is not None:
        number = float(match[2]) / 100
        if match[1] == "+":
            return 1 + number
        if match[1] == "-":
            return 1 - number
        return number
    try:
        number = float(value)
    except ValueError:
        raise InvalidSsml(f"prosody rate={value!r} is not a rate (slow, fast, 120%)") from None
    return number


def _clamp_rate(rate: float) -> float:
    if not MIN_RATE <= rate <= MAX_RATE:
        raise InvalidSsml(f"prosody rate must give a speed between {MIN_RATE} and {MAX_RATE}")
    return rate


_TAG = re.compile(r"<!--.*?-->|<\?.*?\?>|<!\[CDATA\[|\]\]>|<[^>]*>", re.S)


def parse_ssml(
    source: str, *, language: str, languages: tuple[str, ...] = (), phonemes: bool = False,
    engine_tags: frozenset[str] = frozenset(),
) -> ParsedSsml:
    """Parse ``source`` into blocks; raises :class:`InvalidSsml` with the reason."""
    builder = _Builder(source, language, languages, phonemes, engine_tags)
    parser = DefusedXMLParser(target=builder, forbid_dtd=True)
    expat = parser.parser
    expat.buffer_text = False
    builder.position = lambda: expat.CurrentByteIndex
    try:
        parser.feed(source.encode("utf-8"))
        parser.close()
    except InvalidSsml:
        raise
    except DefusedXmlException as exc:
        raise InvalidSsml(f"SSML may not declare a DTD or entities ({type(exc).__name__})") \
            from None
    except ParseError as exc:
        raise InvalidSsml(f"malformed SSML: {exc}") from None
    except RecursionError:
        raise InvalidSsml(f"SSML nests deeper than {MAX_DEPTH} elements") from None
    blocks = [block for block in builder.blocks if block.runs]
    visible = _TAG.sub(lambda match: " " * len(match.group(0)), source)
    return ParsedSsml(blocks, visible, builder.leading_pause_ms)
