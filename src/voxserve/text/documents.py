"""Uploaded documents (plain text, Markdown, HTML, EPUB, PDF) -> chapters of speakable segments.

:func:`parse_document` detects the format (content first, then the file name and content type),
reads it with a reader from :mod:`voxserve.text.formats`, and turns every paragraph into
normalized, speakable segments with :func:`voxserve.text.prepare.prepare` (in the voice's
language, each segment keeping the user's words it says, for subtitles). Empty paragraphs and
chapters are dropped. Anything refused raises one of the ``InvalidRequest`` errors below before
a :class:`Document` exists, so nothing is ever half-created.
"""

from __future__ import annotations

import codecs
import itertools
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Literal

from voxserve.text.formats import (
    CorruptDocument,
    DocumentTooLarge,
    EmptyDocument,
    RawDocument,
    UnsupportedDocument,
    collapse_spaces,
)
from voxserve.text.formats.epub import read_epub
from voxserve.text.formats.html import read_html
from voxserve.text.formats.markdown import read_markdown
from voxserve.text.formats.pdf import PDF_MAGIC, read_pdf
from voxserve.text.formats.plain import read_plain
from voxserve.text.lexicon import Lexicon
from voxserve.text.prepare import TextOptions, prepare

__all__ = [
    "Chapter",
    "CorruptDocument",
    "Document",
    "DocumentTooLarge",
    "EmptyDocument",
    "Paragraph",
    "Reading",
    "UnsupportedDocument",
    "parse_document",
    "parse_text",
    "split_long_chapters",
]

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
DEFAULT_MAX_UNPACKED_BYTES = 100 * 1024 * 1024
UNTITLED_CHAPTER = "Introduction"

TextFormat = Literal["html", "markdown", "text"]

_ZIP_MAGIC = b"PK\x03\x04"
_PDF_SNIFF_BYTES = 1024  # the PDF header may follow some junk
_HTML_SNIFF_CHARS = 1024
_HTML_STARTS = ("<!doctype html", "<html")
_HTML_EXTENSIONS = frozenset((".html", ".htm", ".xhtml"))
_HTML_TYPES = frozenset(("text/html", "application/xhtml+xml"))
_MARKDOWN_EXTENSIONS = frozenset((".md", ".markdown", ".mdown", ".mkd"))
_MARKDOWN_TYPES = frozenset(("text/markdown", "text/x-markdown"))
# Text with more control characters than a few plus this fraction is taken for binary data.
_MAX_CONTROL_FRACTION = 0.01
_STRAY_CONTROLS = 4
_BINARY_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")  # all but \t \n \v \f \r
_SUPPORTED = "plain text, Markdown, HTML, EPUB or PDF"


@dataclass(frozen=True)
class Paragraph:
    """A paragraph as normalized, speakable segments (sentences or sentence pieces)."""

    segments: tuple[str, ...]
    #: The user's words each segment says (subtitles); empty: the segments themselves.
    sources: tuple[str, ...] = ()

    def source(self, index: int) -> str:
        return self.sources[index] if self.sources else self.segments[index]


@dataclass(frozen=True)
class Chapter:
    """A chapter: a display title (as written, not normalized) and its paragraphs."""

    title: str
    paragraphs: tuple[Paragraph, ...]


@dataclass(frozen=True)
class Document:
    """A parsed document: never empty, every chapter and paragraph has at least one segment."""

    title: str | None
    chapters: tuple[Chapter, ...]

    @property
    def segment_count(self) -> int:
        """Number of segments in the whole document."""
        return sum(len(p.segments) for chapter in self.chapters for p in chapter.paragraphs)

    @property
    def char_count(self) -> int:
        """Number of characters in all segments (what the engine will read)."""
        return sum(len(text) for *_, text in self.iter_segments())

    def iter_sourced(self) -> Iterator[tuple[int, int, int, str, str]]:
        """(chapter, paragraph, segment index, text, the user's words it says)."""
        for c, chapter in enumerate(self.chapters):
            for p, paragraph in enumerate(chapter.paragraphs):
                for s, text in enumerate(paragraph.segments):
                    yield c, p, s, text, paragraph.source(s)

    def iter_segments(self) -> Iterator[tuple[int, int, int, str]]:
        """(chapter index, paragraph index in chapter, segment index in paragraph, text)."""
        for c, chapter in enumerate(self.chapters):
            for p, paragraph in enumerate(chapter.paragraphs):
                for s, text in enumerate(paragraph.segments):
                    yield c, p, s, text


def parse_document(
    data: bytes,
    *,
    filename: str | None = None,
    content_type: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_segment_chars: int = 400,
    max_unpacked_bytes: int = DEFAULT_MAX_UNPACKED_BYTES,
    reading: Reading | None = None,
) -> Document:
    """Parse an uploaded file into a :class:`Document`.

    The format is sniffed from the content (PDF and zip signatures, an HTML start); for text,
    the file name's extension or the content type then picks HTML or Markdown over plain text.
    Raises :class:`DocumentTooLarge` over ``max_bytes`` (or, for EPUB and PDF, past
    ``max_unpacked_bytes`` of unpacked content or text), :class:`EmptyDocument` when there is
    nothing to read, :class:`UnsupportedDocument` for other formats, binary data and encrypted
    PDFs, and :class:`CorruptDocument` for broken archives and PDFs. ``reading``: the voice's
    language, lexicon, and whether chapter titles are spoken (default: English, no).
    """
    if len(data) > max_bytes:
        raise DocumentTooLarge(f"the document is {len(data)} bytes; the limit is {max_bytes}")
    if not data.strip():
        raise EmptyDocument("the document is empty")
    extension, media_type = _declared(filename, content_type)
    if PDF_MAGIC in data[:_PDF_SNIFF_BYTES]:
        raw = read_pdf(data, max_unpacked_bytes=max_unpacked_bytes)
    elif data.startswith(_ZIP_MAGIC):
        raw = read_epub(data, max_unpacked_bytes=max_unpacked_bytes)
    else:
        text = _decode(data, filename or media_type or "the document")
        raw = _read_text(text, _text_format(text, extension, media_type))
    return _build(raw, raw.title or _title_from_filename(filename), max_segment_chars, reading)


def parse_text(
    text: str, *, markdown: bool = False, max_segment_chars: int = 400,
    reading: Reading | None = None,
) -> Document:
    """Parse submitted text (plain, or Markdown if ``markdown``) into a :class:`Document`.

    Raises :class:`EmptyDocument` if it holds nothing to read, and nothing else.
    """
    raw = _read_text(text, "markdown" if markdown else "text")
    return _build(raw, raw.title, max_segment_chars, reading)


def _declared(filename: str | None, content_type: str | None) -> tuple[str, str]:
    """The lower-cased file extension and media type the client declared ("" if none)."""
    extension = PurePosixPath((filename or "").replace("\\", "/")).suffix.lower()
    media_type = (content_type or "").split(";")[0].strip().lower()
    return extension, media_type


def _decode(data: bytes, name: str) -> str:
    """Text of an upload: UTF-8 or UTF-16 with a BOM, else UTF-8, else Windows-1252.

    Raises :class:`UnsupportedDocument` for binary data (NUL bytes, many control characters).
    """
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace")
    refusal = UnsupportedDocument(
        f"{name} is not a supported document ({_SUPPORTED}) or not text in a known encoding"
    )
    if b"\x00" in data:
        raise refusal
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError:
            raise refusal from None
    controls = len(_BINARY_CONTROLS.findall(text))
    if controls > _STRAY_CONTROLS + _MAX_CONTROL_FRACTION * len(text):
        raise refusal
    return text


def _text_format(text: str, extension: str, media_type: str) -> TextFormat:
    """HTML if the text starts like HTML or is declared so, Markdown if declared so, else text."""
    start = text[:_HTML_SNIFF_CHARS].lstrip().lower()
    if start.startswith("<?xml"):
        start = start[start.find("?>") + 2 :].lstrip()
    if start.startswith(_HTML_STARTS) or extension in _HTML_EXTENSIONS or media_type in _HTML_TYPES:
        return "html"
    if extension in _MARKDOWN_EXTENSIONS or media_type in _MARKDOWN_TYPES:
        return "markdown"
    return "text"


def _read_text(text: str, text_format: TextFormat) -> RawDocument:
    """Read decoded text in the given format; :class:`EmptyDocument` if it is blank."""
    if not text.strip():
        raise EmptyDocument("the document is empty")
    if text_format == "html":
        return read_html(text)
    if text_format == "markdown":
        return read_markdown(text)
    return read_plain(text)


def split_long_chapters(document: Document, max_segments: int) -> Document:
    """``document`` with every chapter of more than ``max_segments`` segments cut into parts
    of about equal length, titled "Title (part 2 of 3)"; 0 cuts nothing.

    Cuts fall between paragraphs; a paragraph longer than ``max_segments`` (a text without
    blank lines) is cut between its sentences. A long chapter is then encoded part by part
    while the rest is synthesized, instead of all at the end, and assembling a part loads
    at most ``max_segments`` stored sentences.
    """
    if max_segments <= 0:
        return document
    chapters: list[Chapter] = []
    for chapter in document.chapters:
        parts = _parts(chapter, max_segments)
        if len(parts) == 1:
            chapters.append(chapter)
            continue
        chapters += [Chapter(f"{chapter.title} (part {n} of {len(parts)})", part)
                     for n, part in enumerate(parts, start=1)]
    return Document(document.title, tuple(chapters))


def _parts(chapter: Chapter, max_segments: int) -> list[tuple[Paragraph, ...]]:
    total = sum(len(paragraph.segments) for paragraph in chapter.paragraphs)
    if total <= max_segments:
        return [chapter.paragraphs]
    target = math.ceil(total / math.ceil(total / max_segments))  # equal parts, within the limit
    pieces = [piece for paragraph in chapter.paragraphs for piece in _runs(paragraph, target)]
    parts: list[tuple[Paragraph, ...]] = []
    current: list[Paragraph] = []
    size = 0
    remaining = total  # segments not in a finished part
    for piece in pieces:
        count = len(piece.segments)
        part_target = remaining / math.ceil(remaining / max_segments)
        if current and (size + count > max_segments or size + count / 2 > part_target):
            parts.append(tuple(current))
            remaining -= size
            current, size = [], 0
        current.append(piece)
        size += count
    parts.append(tuple(current))
    return parts


def _runs(paragraph: Paragraph, most: int) -> list[Paragraph]:
    """``paragraph`` cut into runs of about equal length, none longer than ``most``."""
    segments = paragraph.segments
    count = math.ceil(len(segments) / most)
    if count <= 1:
        return [paragraph]
    bounds = [round(n * len(segments) / count) for n in range(count + 1)]
    return [Paragraph(segments[a:b], paragraph.sources[a:b]) for a, b in itertools.pairwise(bounds)]


def _title_from_filename(filename: str | None) -> str | None:
    """A title from the file name's stem ("my_book.txt" -> "my book"), if there is one."""
    stem = PurePosixPath((filename or "").replace("\\", "/")).stem
    return collapse_spaces(stem.replace("_", " ")) or None


@dataclass(frozen=True)
class Reading:
    """How a document is read aloud: the voice's language and lexicon, and its options."""

    language: str = "en"
    lexicon: Lexicon | None = None
    #: the engine takes phonemes (lexicon entries with IPA reach it as phonemes)
    phonemes: bool = False
    #: each chapter starts with its title, spoken, as a paragraph of its own
    speak_titles: bool = False


def _paragraph(text: str, max_segment_chars: int, reading: Reading) -> Paragraph | None:
    """A paragraph's segments and the user's words each says (None if nothing is said)."""
    plan = prepare(text, TextOptions(
        language=reading.language, input_type="text", lexicon=reading.lexicon,
        phonemes=reading.phonemes, inline_phonemes=False, max_segment_chars=max_segment_chars,
    ))
    if not plan.segments:
        return None
    return Paragraph(tuple(s.text for s in plan.segments),
                     tuple(s.source_text for s in plan.segments))


def _build(
    raw: RawDocument, title: str | None, max_segment_chars: int, reading: Reading | None
) -> Document:
    """Segment every paragraph, drop what is empty, and name untitled chapters."""
    reading = reading or Reading()
    chapters: list[Chapter] = []
    for raw_chapter in raw.chapters:
        paragraphs = tuple(
            paragraph
            for text in raw_chapter.paragraphs
            if (paragraph := _paragraph(text, max_segment_chars, reading)) is not None
        )
        if paragraphs and reading.speak_titles and raw_chapter.title:
            heading = _paragraph(raw_chapter.title, max_segment_chars, reading)
            if heading is not None:  # a paragraph of its own: the paragraph pause follows
                paragraphs = (heading, *paragraphs)
        if paragraphs:
            chapter_title = raw_chapter.title or title or UNTITLED_CHAPTER
            chapters.append(Chapter(chapter_title, paragraphs))
    if not chapters:
        raise EmptyDocument("the document has no readable text")
    return Document(title, tuple(chapters))
