"""English dates and years: "2024-01-15", "Jan. 5, 2024", "the 1990s", "500 BC", "in 1990".

Each ``Rule`` follows the function that reads its matches; :mod:`voxserve.text.numbers.en`
puts the rules in the order they run. What these leave as digits the later rules spell.
"""

from __future__ import annotations

import re

from voxserve.text.abbreviations import Rule, ends_sentence
from voxserve.text.numbers.en.common import DIGITS, pad, text_before
from voxserve.text.numbers.en.lexicon import ERAS, MONTH_BY_NAME, MONTHS
from voxserve.text.numbers.spelling import spell_cardinal, spell_ordinal, spell_year

_NUMBER_END = r"(?![\w:]|[.,]\d)"
_MONTH = (
    r"(?P<month>(?:" + "|".join(MONTHS) + r")\b"
    r"|(?:Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)(?:\.|\b))"
)
_DAY = rf"(?P<day>3[01]|[12]\d|0?[1-9])(?:st|nd|rd|th)?{_NUMBER_END}"
_YEAR = rf"(?P<year>1\d{{3}}|20\d{{2}}){_NUMBER_END}"
_OPTIONAL_YEAR = rf"(?:,?\s{_YEAR})?"
_YEAR_NUMBER = rf"(?:1\d{{3}}|20\d{{2}}){_NUMBER_END}"
#: Substrings one of which a text must hold for a month name to match.
MONTH_TRIGGERS = tuple(name[:3] for name in MONTHS)

_AFTER_THE = re.compile(r"(?<!\w)[Tt]he\s$")
# Words after which a four-digit number is a year ("in 1990", "the 1990 election", "Q3 2024").
_YEAR_CONTEXT = re.compile(
    r"(?<!\w)(?:in|since|by|from|until|till|through|during|before|after|circa|around|year|of"
    r"|early|late|mid|the|summer|winter|spring|autumn|fall|Q[1-4])[\s-]$",
    re.IGNORECASE,
)
_YEAR_CONTEXT_CHARS = 20


def pluralize_number_words(words: str) -> str:
    """Make the last number word plural: "nineteen ninety" -> "nineteen nineties"."""
    if words.endswith("y"):
        return words[:-1] + "ies"
    if words.endswith("x"):
        return words + "es"
    return words + "s"


def _month(match: re.Match[str]) -> str:
    """Full month name from a matched name or abbreviation ("Jan." -> "January")."""
    return MONTH_BY_NAME[match["month"].rstrip(".").lower()]


def _year_suffix(year: str | None) -> str | None:
    """Return ", <year in words>" for a matched year, "" for none, None if unspellable."""
    if not year:
        return ""
    words = spell_year(year)
    return None if words is None else f", {words}"


def _month_day(match: re.Match[str]) -> str:
    """Read month-first dates: "Jan. 5, 2024" -> "January fifth, twenty twenty-four"."""
    day, year = spell_ordinal(match["day"]), _year_suffix(match["year"])
    if day is None or year is None:
        return match.group(0)
    return f"{_month(match)} {day}{year}"


MONTH_DAY = Rule(re.compile(rf"\b{_MONTH}\s{_DAY}{_OPTIONAL_YEAR}"), _month_day, MONTH_TRIGGERS)


def _day_month(match: re.Match[str]) -> str:
    """Read day-first dates: "5 January 2024" -> "the fifth of January, twenty twenty-four"."""
    day, year = spell_ordinal(match["day"]), _year_suffix(match["year"])
    if day is None or year is None:
        return match.group(0)
    after_the = _AFTER_THE.search(text_before(match, 5))
    return f"{'' if after_the else 'the '}{day} of {_month(match)}{year}"


DAY_MONTH = Rule(
    re.compile(rf"(?<![\w.,]){_DAY}\s(?:of\s)?{_MONTH}{_OPTIONAL_YEAR}"), _day_month, MONTH_TRIGGERS
)


def _month_year(match: re.Match[str]) -> str:
    """Read a month and year: "January 2024" -> "January twenty twenty-four"."""
    year = spell_year(match["year"])
    return match.group(0) if year is None else f"{_month(match)} {year}"


MONTH_YEAR = Rule(re.compile(rf"\b{_MONTH}\s{_YEAR}"), _month_year, MONTH_TRIGGERS)


def _say_date(year: str, month: int, day: int) -> str | None:
    """Spoken "Month ordinal, year" from numeric parts, or None for an impossible date."""
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    day_words, year_words = spell_ordinal(str(day)), spell_year(year)
    if day_words is None or year_words is None:
        return None
    return f"{MONTHS[month - 1]} {day_words}, {year_words}"


def _iso_date(match: re.Match[str]) -> str:
    """Read ISO dates: "2024-01-15" -> "January fifteenth, twenty twenty-four"."""
    spoken = _say_date(match["year"], int(match["month"]), int(match["day"]))
    return match.group(0) if spoken is None else spoken


ISO_DATE = Rule(
    re.compile(
        r"(?<![\w-])(?P<year>\d{4})-(?P<month>0[1-9]|1[0-2])-(?P<day>0[1-9]|[12]\d|3[01])(?![\d-])"
    ),
    _iso_date,
    ("-",),
)


def _slash_date(match: re.Match[str]) -> str:
    """Read "1/15/2024" (US order; day-first when the first part cannot be a month)."""
    first, second, year = int(match["a"]), int(match["b"]), match["year"]
    if len(year) == 2:
        year = ("20" if int(year) < 50 else "19") + year
    month, day = (first, second) if first <= 12 else (second, first)
    spoken = _say_date(year, month, day)
    return match.group(0) if spoken is None else spoken


SLASH_DATE = Rule(
    re.compile(r"(?<![\w/.,])(?P<a>\d{1,2})/(?P<b>\d{1,2})/(?P<year>\d{4}|\d{2})(?![\w/]|[.,]\d)"),
    _slash_date,
    ("/",),
)


def _decade(match: re.Match[str]) -> str:
    """Read decades: "1990s" -> "nineteen nineties", "'80s" -> "eighties"."""
    words = spell_year(match["year"]) if match["year"] else spell_cardinal(match["short"])
    return match.group(0) if words is None else pad(match, pluralize_number_words(words))


DECADE = Rule(
    re.compile(r"(?<![\w'])(?:(?P<year>1\d\d0|20\d0)|'?(?P<short>[1-9]0))'?s(?!\w)"),
    _decade,
    ("0s", "0's"),
)


def _year_in_context(match: re.Match[str]) -> str:
    """Read years after a context word ("in 1990"); a bare 1990 stays a cardinal."""
    context = _YEAR_CONTEXT.search(text_before(match, _YEAR_CONTEXT_CHARS))
    words = spell_year(match["year"]) if context else None
    return match.group(0) if words is None else words


YEAR_IN_CONTEXT = Rule(
    re.compile(rf"(?<![\w.,])(?P<year>1\d{{3}}|20\d{{2}}){_NUMBER_END}(?!\s?%)"),
    _year_in_context,
    DIGITS,
)


def _year_pair(match: re.Match[str]) -> str:
    """Read "from 1990 to 1995" / "between 1990 and 1995" with both numbers as years."""
    first, second = spell_year(match["first"]), spell_year(match["second"])
    if first is None or second is None:
        return match.group(0)
    return f"{match['head']}{first} {match['conj']} {second}"


YEAR_PAIR = Rule(
    re.compile(
        r"(?P<head>\b(?i:from|between)\s)"
        rf"(?P<first>{_YEAR_NUMBER})\s(?P<conj>to|and|until|through)\s(?P<second>{_YEAR_NUMBER})"
    ),
    _year_pair,
    DIGITS,
)


def _era_year(match: re.Match[str]) -> str:
    """Read era years: "500 BC" -> "five hundred BC", "AD 476" -> "A.D four hundred ..."."""
    words = spell_year(match["year"])
    if words is None:
        return match.group(0)
    era = ERAS[match["era"]]
    if match.start("era") < match.start("year"):
        return f"{era} {words}"
    period = "." if match["era"].endswith(".") and ends_sentence(match) else ""
    return f"{words} {era}{period}"


#: "500 BC", "1066 A.D."
YEAR_ERA = Rule(
    re.compile(r"(?<![\w.,])(?P<year>\d{1,4})\s?(?P<era>A\.D\.|B\.C\.|AD|BCE|BC|CE)(?!\w)"),
    _era_year,
    ("AD", "BC", "CE", "A.D", "B.C"),
)
#: "AD 476"
ERA_YEAR = Rule(
    re.compile(rf"\b(?P<era>AD|A\.D\.)\s?(?P<year>\d{{1,4}}){_NUMBER_END}"),
    _era_year,
    ("AD", "A.D"),
)
