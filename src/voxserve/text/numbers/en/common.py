"""What the English number rule modules share: regex fragments and replacement helpers."""

from __future__ import annotations

import re

from voxserve.text.numbers.spelling import plain_digits

#: An unsigned integer, with thousands separators ("1,234,567") or without.
INT = r"\d{1,3}(?:,\d{3})+(?!\d)|\d+"
#: An unsigned number with an optional decimal part: groups ``int`` and ``frac``.
NUMBER = rf"(?P<int>{INT})(?:\.(?P<frac>\d+))?"
#: Triggers of rules that need a digit (see :class:`~voxserve.text.abbreviations.Rule`).
DIGITS = tuple("0123456789")


def pad(match: re.Match[str], words: str) -> str:
    """Put spaces around ``words`` where the match touched a letter or digit ("COVID19")."""
    text, start, end = match.string, match.start(), match.end()
    left = " " if start > 0 and text[start - 1].isalnum() else ""
    right = " " if end < len(text) and text[end].isalnum() else ""
    return f"{left}{words}{right}"


def text_before(match: re.Match[str], chars: int) -> str:
    """Up to ``chars`` characters of the text just before the match (its context)."""
    return match.string[max(0, match.start() - chars) : match.start()]


def is_one(digits: str) -> bool:
    """True for the integer one, so units and currencies can be singular."""
    return plain_digits(digits).lstrip("0") == "1"
