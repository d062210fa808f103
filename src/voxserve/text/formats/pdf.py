"""PDF, read with pypdf's text extraction.

Chapters come from the outline (bookmarks) when there is one: each top-level bookmark (or,
under a single top-level bookmark, each of its children) starts a chapter on its page, at its
title where the title is found on that page. Without an outline, "CHAPTER ..." lines start
chapters as in plain text. Lines are joined into paragraphs: a line ending a sentence well short
of the usual line length ends its paragraph, words hyphenated across lines are rejoined and lines
holding only a page number are dropped.

pypdf errors on a malformed file become :class:`CorruptDocument`; encrypted files that do not
open with an empty password, and files of more than :data:`MAX_PAGES` pages, are refused.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator

from pypdf import PasswordType, PdfReader
from pypdf.errors import DependencyError
from pypdf.generic import Destination

from voxserve.errors import InvalidRequest
from voxserve.text.formats import (
    Block,
    CorruptDocument,
    DocumentTooLarge,
    RawChapter,
    RawDocument,
    UnsupportedDocument,
    chapters_from_headings,
    collapse_spaces,
)
from voxserve.text.formats.plain import is_heading

logger = logging.getLogger(__name__)

PDF_MAGIC = b"%PDF-"
MAX_PAGES = 5_000
_PAGE_NUMBER = re.compile(r"\d{1,4}")
_SENTENCE_END = (".", "!", "?", ":", '"', "'", "”", "’", ")")
# A line shorter than this fraction of the usual line length, ending a sentence, ends a paragraph.
_SHORT_LINE = 0.8


def read_pdf(data: bytes, *, max_unpacked_bytes: int) -> RawDocument:
    """Title and chapters of a PDF; its extracted text may not exceed ``max_unpacked_bytes``."""
    try:
        reader = PdfReader(io.BytesIO(data))
        _open(reader)
        if len(reader.pages) > MAX_PAGES:
            raise DocumentTooLarge(
                f"the PDF has {len(reader.pages)} pages; the limit is {MAX_PAGES}"
            )
        pages = _page_texts(reader, max_unpacked_bytes)
    except InvalidRequest:
        raise
    except DependencyError as error:  # AES encryption without the optional crypto library
        raise UnsupportedDocument(f"the PDF uses an unsupported encryption: {error}") from error
    except Exception as error:  # pypdf raises many kinds of errors on malformed input
        raise CorruptDocument(f"the PDF cannot be read: {error}") from error
    bookmarks = _bookmarks(reader)
    width = _usual_line_length(pages)
    if not bookmarks:
        chapters = chapters_from_headings(_blocks("\n".join(pages), width, headings=True)).chapters
    else:
        chapters = _chapters_at_bookmarks(pages, bookmarks, width)
    return RawDocument(_title(reader), chapters)


def _open(reader: PdfReader) -> None:
    """Decrypt a PDF that opens with an empty password; refuse other encrypted ones."""
    if not reader.is_encrypted:
        return
    if reader.decrypt("") == PasswordType.NOT_DECRYPTED:
        raise UnsupportedDocument("the PDF is password-protected; upload an unencrypted copy")


def _page_texts(reader: PdfReader, max_chars: int) -> list[str]:
    """The text of every page, refusing a document whose text exceeds ``max_chars``.

    A page whose text cannot be extracted counts as empty, unless no page can be read.
    """
    texts: list[str] = []
    total = 0
    error: Exception | None = None
    for page in reader.pages:
        try:
            texts.append(page.extract_text())
        except DependencyError:
            raise
        except Exception as page_error:  # one odd page (a broken font...) loses only itself
            logger.info("skipping a PDF page whose text cannot be extracted", exc_info=True)
            texts.append("")
            error = page_error
        total += len(texts[-1])
        if total > max_chars:
            raise DocumentTooLarge(f"the PDF's text is longer than {max_chars} characters")
    if error is not None and not any(texts):
        raise error
    return texts


def _title(reader: PdfReader) -> str | None:
    """The title in the PDF's metadata, if it has a readable one."""
    try:
        title = reader.metadata.title if reader.metadata is not None else None
    except Exception:  # broken metadata only loses the title
        logger.info("ignoring the unreadable metadata of a PDF", exc_info=True)
        return None
    return _text(title) or None


def _text(value: object) -> str:
    """A metadata or outline string, whitespace collapsed ("" for a missing or odd value)."""
    return collapse_spaces(value) if isinstance(value, str) else ""


def _bookmarks(reader: PdfReader) -> list[tuple[str, int]]:
    """(title, page index) of the chapter-level outline items; none if the outline is broken."""
    try:
        outline = reader.outline
        level = [item for item in outline if isinstance(item, Destination)]
        if len(level) == 1:
            children = next((item for item in outline if isinstance(item, list)), [])
            level = [item for item in children if isinstance(item, Destination)] or level
        marks = [(_text(item.title), reader.get_destination_page_number(item)) for item in level]
    except Exception:  # a broken outline only loses the chapter split
        logger.info("ignoring the unreadable outline of a PDF", exc_info=True)
        return []
    count = len(reader.pages)
    return [
        (title, page) for title, page in marks if title and page is not None and 0 <= page < count
    ]


def _chapters_at_bookmarks(
    pages: list[str], bookmarks: list[tuple[str, int]], width: float
) -> list[RawChapter]:
    """Cut the text at each bookmark: at its title on its page if found, else at the page start.

    The title found is left out of the chapter text; text before the first bookmark becomes an
    untitled chapter.
    """
    offsets = [0]
    for text in pages:
        offsets.append(offsets[-1] + len(text) + 1)
    text = "\n".join(pages)
    cuts: list[tuple[int, int]] = []  # (chapter start, body start)
    for title, page in bookmarks:
        start = max(offsets[page], cuts[-1][1] if cuts else 0)
        words = r"\s+".join(re.escape(word) for word in title.split())
        pattern = re.compile(rf"(?<!\w){words}(?!\w)", re.IGNORECASE)
        found = pattern.search(text, start, max(start, offsets[page + 1]))
        cuts.append((found.start(), found.end()) if found else (start, start))
    chapters = [RawChapter(None, _paragraphs(text[: cuts[0][0]], width))]
    ends = [start for start, _ in cuts[1:]] + [len(text)]
    for (title, _), (_, body), end in zip(bookmarks, cuts, ends, strict=True):
        chapters.append(RawChapter(title, _paragraphs(text[body:end], width)))
    return chapters


def _usual_line_length(pages: list[str]) -> float:
    """The length of a typical full line (the 90th percentile of non-empty line lengths)."""
    lengths = sorted(len(line.strip()) for text in pages for line in text.split("\n"))
    lengths = [length for length in lengths if length]
    return float(lengths[(len(lengths) - 1) * 9 // 10]) if lengths else 0.0


def _paragraphs(text: str, width: float) -> list[str]:
    """Paragraph texts of a stretch of extracted text."""
    return [block.text for block in _blocks(text, width, headings=False)]


def _blocks(text: str, width: float, *, headings: bool) -> Iterator[Block]:
    """Paragraphs joined from extracted lines, and (if ``headings``) chapter heading lines."""
    current = ""
    for raw_line in text.split("\n"):
        line = collapse_spaces(raw_line)
        if _PAGE_NUMBER.fullmatch(line):
            continue
        if headings and is_heading(line):
            if current:
                yield Block(current)
            yield Block(line, level=1)
            current = ""
            continue
        current = _join(current, line)
        if not line or (line.endswith(_SENTENCE_END) and len(line) < _SHORT_LINE * width):
            if current:
                yield Block(current)
            current = ""
    if current:
        yield Block(current)


def _join(text: str, line: str) -> str:
    """Append a line to paragraph text, rejoining a word hyphenated across the line break."""
    if not text:
        return line
    if text.endswith("-") and text[-2:-1].isalpha() and line[:1].islower():
        return text[:-1] + line
    return f"{text} {line}" if line else text
