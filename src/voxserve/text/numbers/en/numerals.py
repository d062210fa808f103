"""English numbers read as numbers: phone numbers, ranges, ordinals, versions, the rest.

The last rules here (:data:`BARE_FRACTION`, :data:`SIGNED_NUMBER`, :data:`DIGIT_RUN`) spell
whatever number every rule before them left: "-1,234.5" -> "minus one thousand ...".
"""

from __future__ import annotations

import re

from voxserve.text.abbreviations import Rule
from voxserve.text.numbers.en.common import DIGITS, INT, NUMBER, pad, text_before
from voxserve.text.numbers.spelling import (
    spell_cardinal,
    spell_digits,
    spell_ordinal,
    spell_signed,
    spell_year,
)

# "555-1234" is only a phone number next to words like these (else it reads as a range).
_PHONE_CONTEXT = re.compile(r"(?i)\b(?:phone|call|dial|number|tel|fax|text|reach|contact|ext)\b")
_PHONE_CONTEXT_CHARS = 40


def _phone(match: re.Match[str]) -> str:
    """Read phone numbers digit by digit, with a pause between the groups."""
    groups = [spell_digits(group) for group in re.findall(r"\d+", match.group(0))]
    if any(group is None for group in groups):
        return match.group(0)
    return ", ".join(group for group in groups if group)


#: "(555) 123-4567", "+1 555.123.4567"
PHONE = Rule(
    re.compile(r"(?<![\w+])(?:\+?1[-.\s])?(?:\(\d{3}\)\s?|\d{3}[-.])\d{3}[-.]\d{4}(?![\w-])"),
    _phone,
    ("-", "."),
)


def _local_phone(match: re.Match[str]) -> str:
    """Read "555-0199" as a phone number when it cannot be a range or a phone word precedes it."""
    before = text_before(match, _PHONE_CONTEXT_CHARS)
    if match["line"].startswith("0") or _PHONE_CONTEXT.search(before):
        return _phone(match)
    return match.group(0)


#: "555-0199"
LOCAL_PHONE = Rule(
    re.compile(r"(?<![\w+.-])(?P<exchange>[2-9]\d{2})-(?P<line>\d{4})(?![\w-])"),
    _local_phone,
    ("-",),
)


def _range(match: re.Match[str]) -> str:
    """Read ranges: "10-20" -> "10 to 20" (spelled later); year ranges are spelled here."""
    first, second = match["a"], match["b"]
    if re.fullmatch(r"1\d{3}|20\d{2}", first) and re.fullmatch(r"\d{2}|\d{4}", second):
        first_words = spell_year(first)
        second_words = spell_year(second) if len(second) == 4 else spell_cardinal(second)
        if first_words and second_words:
            return f"{first_words} to {second_words}"
    return f"{first} to {second}"


RANGE = Rule(
    re.compile(r"(?<![\w.,:/-])(?P<a>\d+(?:\.\d+)?)-(?P<b>\d+(?:\.\d+)?)(?![\w:/-]|[.,]\d)"),
    _range,
    ("-",),
)


def _ordinal(match: re.Match[str]) -> str:
    """Read ordinals: "22nd" -> "twenty-second"."""
    words = spell_ordinal(match["int"])
    return match.group(0) if words is None else pad(match, words)


ORDINAL = Rule(
    re.compile(rf"(?<![\w.,])(?P<int>{INT})(?:st|nd|rd|th|ST|ND|RD|TH)(?!\w)"),
    _ordinal,
    ("st", "nd", "rd", "th", "ST", "ND", "RD", "TH"),
)


def _dotted(match: re.Match[str]) -> str:
    """Versions "1.2.3" -> "one point two point three"; IPs (4+ parts) use "dot"."""
    parts = match.group(0).split(".")
    words = [spell_cardinal(part) for part in parts]
    if any(word is None for word in words):
        return match.group(0)
    separator = " dot " if len(parts) >= 4 else " point "
    return pad(match, separator.join(word for word in words if word))


#: "1.2.3" (a version), "192.168.0.1" (an address)
DOTTED = Rule(re.compile(r"(?<![\d.])\d+(?:\.\d+){2,}(?!\d|\.\d)"), _dotted, (".",))


def _bare_fraction(match: re.Match[str]) -> str:
    """A decimal without its zero: ".5" -> "point five"."""
    return pad(match, f"point {spell_digits(match['frac']) or match['frac']}")


BARE_FRACTION = Rule(re.compile(r"(?<![\w.])\.(?P<frac>\d+)(?!\d)"), _bare_fraction, (".",))


def _number(match: re.Match[str]) -> str:
    """Any remaining number: "-1,234.5" -> "minus one thousand ... thirty-four point five"."""
    words = spell_signed(match["sign"], match["int"] or "0", match["frac"])
    return match.group(0) if words is None else pad(match, words)


SIGNED_NUMBER = Rule(
    re.compile(rf"(?<![\d.])(?:(?<!\w)(?P<sign>[-+±]))?{NUMBER}(?!\d)"), _number, DIGITS
)


def _digit_run(match: re.Match[str]) -> str:
    """Digits every rule before left alone (after a period, as in "v.2"): a cardinal."""
    return pad(match, spell_cardinal(match.group(0)) or match.group(0))


DIGIT_RUN = Rule(re.compile(r"\d+"), _digit_run, DIGITS)
