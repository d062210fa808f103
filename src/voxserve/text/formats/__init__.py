"""Format readers for uploaded documents, and what they share.

Each reader turns one format into a :class:`RawDocument`: chapters of raw paragraph text, not yet
normalized. :mod:`voxserve.text.documents` picks the reader and turns paragraphs into speakable
segments. Readers raise the errors below for input they refuse.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from voxserve.errors import (
    CorruptDocument,
    DocumentTooLarge,
    EmptyDocument,
    UnsupportedDocument,
)

__all__ = [
    "Block",
    "CorruptDocument",
    "DocumentTooLarge",
    "EmptyDocument",
    "RawChapter",
    "RawDocument",
    "UnsupportedDocument",
    "chapters_from_headings",
    "collapse_spaces",
]


@dataclass(frozen=True)
class Block:
    """One paragraph-level piece of text in reading order.

    ``level`` is 1-6 for a heading, 0 for body text. ``anchors`` are the element ids (HTML,
    EPUB) that start at or just before this block, so navigation links can be resolved to it.
    """

    text: str
    level: int = 0
    anchors: frozenset[str] = frozenset()


@dataclass
class RawChapter:
    """A chapter as read: a title (``None``: to be named later) and raw paragraph texts."""

    title: str | None
    paragraphs: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RawDocument:
    """What a reader returns: an optional title and chapters in reading order."""

    title: str | None
    chapters: list[RawChapter]


def collapse_spaces(text: str) -> str:
    """``text`` with every run of whitespace made one space, and trimmed."""
    return " ".join(text.split())


def chapters_from_headings(blocks: Iterable[Block]) -> RawDocument:
    """Group blocks into chapters at h1 or h2 headings (Markdown, HTML, plain text).

    The chapter level is h1 if several h1s occur, else h2 if several h2s occur, else h1. With
    h2 chapters, a lone h1 is the document title; with h1 chapters, a lone h1 that opens the
    text is. Headings below the chapter level stay in the text as paragraphs of their own.
    Text before the first chapter heading becomes an untitled chapter.
    """
    blocks = [block for block in blocks if block.text]
    counts = Counter(block.level for block in blocks)
    level = 1 if counts[1] > 1 else 2 if counts[2] > 1 else 1
    title: str | None = None
    if counts[1] == 1 and (level == 2 or blocks[0].level == 1):
        title = next(block.text for block in blocks if block.level == 1)
    chapters: list[RawChapter] = []
    for block in blocks:
        if block.level == 1 and level == 2:
            continue  # the document title, kept as such
        if block.level == level:
            chapters.append(RawChapter(block.text))
        elif chapters:
            chapters[-1].paragraphs.append(block.text)
        else:
            chapters.append(RawChapter(None, [block.text]))
    return RawDocument(title, chapters)
