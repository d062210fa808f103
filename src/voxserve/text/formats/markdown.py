"""Markdown (CommonMark plus tables), read with markdown-it-py.

Headings (ATX and setext) become heading blocks; paragraphs, list items, block quotes and table
rows (cells joined with commas) become paragraphs, with emphasis and links reduced to their text
and images to their alt text. Code blocks, raw HTML and a leading YAML front matter are not
read aloud.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from markdown_it import MarkdownIt
from markdown_it.token import Token

from voxserve.text.formats import Block, RawDocument, chapters_from_headings, collapse_spaces

_FRONT_MATTER = re.compile(r"\A---[^\S\n]*\n.*?\n(?:---|\.\.\.)[^\S\n]*(?:\n|\Z)", re.DOTALL)
_PARSER = MarkdownIt("commonmark").enable(["table", "strikethrough"])


def read_markdown(text: str) -> RawDocument:
    """Chapters (at # or ## headings) and paragraphs of a Markdown text."""
    return chapters_from_headings(markdown_blocks(text))


def markdown_blocks(text: str) -> Iterator[Block]:
    """Heading and paragraph blocks of a Markdown text, in order."""
    heading_level = 0
    row: list[str] | None = None
    for token in _PARSER.parse(_FRONT_MATTER.sub("", text, count=1)):
        if token.type == "heading_open":
            heading_level = int(token.tag[1:])
        elif token.type == "tr_open":
            row = []
        elif token.type == "tr_close" and row is not None:
            yield Block(", ".join(cell for cell in row if cell))
            row = None
        elif token.type == "inline":
            text = _inline_text(token.children or ())
            if row is not None:
                row.append(text)
            else:
                yield Block(text, level=heading_level)
                heading_level = 0


def _inline_text(tokens: Sequence[Token]) -> str:
    """Readable text of inline tokens: markup dropped, code spans kept, images as alt text."""
    parts: list[str] = []
    for token in tokens:
        if token.type in ("text", "code_inline", "image"):
            parts.append(token.content)
        elif token.type in ("softbreak", "hardbreak"):
            parts.append(" ")
    return collapse_spaces("".join(parts))
