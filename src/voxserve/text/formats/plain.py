"""Plain text: blank-line separated paragraphs, chapter headings recognised by their wording.

A heading is a line of its own such as "CHAPTER 1", "Chapter IV. The Return", "PART TWO",
"Book 3: Exile", "Prologue" or "Epilogue". A bare heading ("CHAPTER I.") whose paragraph ends with
one more short line takes that line as its title ("CHAPTER I. Down the Rabbit-Hole").
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from voxserve.text.formats import Block, RawDocument, chapters_from_headings, collapse_spaces

_UNITS = "one|two|three|four|five|six|seven|eight|nine"
_NUMBER_WORDS = (
    rf"(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)(?:[- ](?:{_UNITS}))?"
    rf"|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|{_UNITS}"
)
_ROMAN = r"(?=[ivxlcdm])m{0,4}(?:cm|cd|d?c{0,3})(?:xc|xl|l?x{0,3})(?:ix|iv|v?i{0,3})"
_HEADING = re.compile(
    rf"(?:(?:chapter|part|book)\s+(?:\d{{1,4}}|{_ROMAN}|{_NUMBER_WORDS})"
    r"|prologue|epilogue|preface|foreword|afterword)"
    # then nothing, or a separator and maybe a title, or a space and a capitalised title
    r"(?:\s*[.:—–-]\s*(?P<after_separator>.*)|\s+(?P<title>\S.*))?",
    re.IGNORECASE,
)
_MAX_HEADING_CHARS = 100
_MAX_TITLE_LINE_CHARS = 60
_PARAGRAPH_BREAK = re.compile(r"\n[^\S\n]*\n")


def read_plain(text: str) -> RawDocument:
    """Chapters and paragraphs of a plain text (which has no title of its own)."""
    return RawDocument(None, chapters_from_headings(plain_blocks(text)).chapters)


def plain_blocks(text: str) -> Iterator[Block]:
    """Heading and paragraph blocks of a plain text (headings are level 1)."""
    for paragraph in _PARAGRAPH_BREAK.split(text.replace("\r\n", "\n").replace("\r", "\n")):
        lines = [line.strip() for line in paragraph.split("\n") if line.strip()]
        body: list[str] = []
        for index, line in enumerate(lines):
            if not is_heading(line):
                body.append(line)
                continue
            if body:
                yield Block(collapse_spaces(" ".join(body)))
                body = []
            rest = lines[index + 1 :]
            if _is_bare_heading(line) and len(rest) == 1 and _is_title_line(rest[0]):
                yield Block(_join_title(line, rest[0]), level=1)
                break
            yield Block(collapse_spaces(line), level=1)
        if body:
            yield Block(collapse_spaces(" ".join(body)))


def is_heading(line: str) -> bool:
    """True if ``line`` (stripped) is a chapter heading."""
    match = _match_heading(line)
    if match is None:
        return False
    title = match["title"]
    return title is None or (_is_title_line(title) and (title[0].isupper() or title[0] in "\"'("))


def _match_heading(line: str) -> re.Match[str] | None:
    """The heading pattern matched against the whole (short) line."""
    return _HEADING.fullmatch(line) if len(line) <= _MAX_HEADING_CHARS else None


def _is_bare_heading(line: str) -> bool:
    """True for a heading without a title of its own ("CHAPTER I.", "PART TWO")."""
    match = _match_heading(line)
    return match is not None and not match["title"] and not match["after_separator"]


def _is_title_line(line: str) -> bool:
    """True for a short line that does not read like part of a sentence."""
    return len(line) <= _MAX_TITLE_LINE_CHARS and not line.endswith((".", "!", "?", ",", ";", "-"))


def _join_title(heading: str, title: str) -> str:
    """"CHAPTER I." + "Down the Rabbit-Hole" -> "CHAPTER I. Down the Rabbit-Hole"."""
    separator = " " if heading[-1] in ".:—–-" else ": "
    return collapse_spaces(heading + separator + title)
