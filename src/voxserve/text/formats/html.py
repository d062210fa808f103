"""HTML and XHTML, read with BeautifulSoup and the standard library's ``html.parser``.

Block elements (paragraphs, headings, list items, table rows, divs...) become blocks; inline
markup is reduced to its text. Scripts, styles, navigation, forms and embedded media are
dropped. Element ids are kept on the blocks they start so EPUB navigation can point into a file.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

from bs4 import BeautifulSoup, XMLParsedAsHTMLWarning
from bs4.element import NavigableString, PageElement, Tag

from voxserve.text.formats import Block, RawDocument, chapters_from_headings, collapse_spaces

# XHTML (EPUB chapters) is read with the HTML parser on purpose: lenient, and no lxml needed.
warnings.filterwarnings("ignore", category=XMLParsedAsHTMLWarning)

_DROPPED = frozenset({
    "script", "style", "nav", "noscript", "template", "head", "title", "svg", "math", "iframe",
    "object", "embed", "canvas", "audio", "video", "form", "button", "select", "textarea", "input",
})  # fmt: skip
_BLOCKS = frozenset({
    "address", "article", "aside", "blockquote", "body", "caption", "dd", "details", "dialog",
    "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5",
    "h6", "header", "hgroup", "hr", "html", "li", "main", "ol", "p", "pre", "section", "summary",
    "table", "tbody", "tfoot", "thead", "tr", "ul",
})  # fmt: skip
_CELLS = frozenset(("td", "th"))
_HEADINGS = {f"h{level}": level for level in range(1, 7)}


class _BlockEnd:
    """Stack marker: the end of a block element is reached."""


_BLOCK_END = _BlockEnd()


def read_html(text: str) -> RawDocument:
    """Chapters (at h1 or h2 headings) and paragraphs of an HTML page; title from ``<title>``."""
    soup = parse_html(text)
    document = chapters_from_headings(html_blocks(soup))
    title = collapse_spaces(soup.title.get_text()) if soup.title is not None else ""
    return RawDocument(title or document.title, document.chapters)


def parse_html(text: str) -> BeautifulSoup:
    """A parse tree for HTML or XHTML text."""
    return BeautifulSoup(text, "html.parser")


def html_blocks(soup: BeautifulSoup) -> Iterator[Block]:
    """Blocks of a parsed page in document order.

    Walks the tree with an explicit stack (deeply nested markup cannot exhaust the recursion
    limit). A block element ends the text before it and starts a new block; each block carries
    the ids of the elements that began since the previous block.
    """
    text: list[str] = []
    anchors: set[str] = set()
    level = 0
    stack: list[PageElement | _BlockEnd] = [soup]
    while stack:
        item = stack.pop()
        if isinstance(item, _BlockEnd):
            block = _flush(text, anchors, level)
            level = 0
            if block is not None:
                yield block
            continue
        if type(item) is NavigableString:  # not a comment, doctype, CDATA...
            text.append(item)
        if not isinstance(item, Tag) or item.name in _DROPPED:
            continue
        if item.name in _BLOCKS:
            block = _flush(text, anchors, level)
            if block is not None:
                yield block
            level = _HEADINGS.get(item.name, 0)
            stack.append(_BLOCK_END)
        elif item.name == "br":
            text.append(" ")
        if item.name in _CELLS:
            text.append(", ")  # stripped again at the ends of the row
        anchor = item.get("id") or (item.get("name") if item.name == "a" else None)
        if isinstance(anchor, str):
            anchors.add(anchor)
        stack.extend(reversed(item.contents))
    block = _flush(text, anchors, level)
    if block is not None:
        yield block


def _flush(text: list[str], anchors: set[str], level: int) -> Block | None:
    """The block made of the text gathered so far, or ``None`` if there is none; clears it."""
    content = collapse_spaces("".join(text)).strip(" ,")
    text.clear()
    if not content:
        return None
    block = Block(content, level, frozenset(anchors))
    anchors.clear()
    return block
