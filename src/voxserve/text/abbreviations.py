"""English abbreviation expansion ("Dr." -> "Doctor", "St." -> "Saint"/"Street", "e.g." ...).

Everything is driven by the tables below. An abbreviation whose period also ends the sentence
("... on Main St. He left.") keeps a period after its expansion so sentence segmentation still
sees the boundary; titles ("Mr.", "Dr.") never end a sentence and lose theirs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import NamedTuple


class Rule(NamedTuple):
    """One rewrite step of the normalizer, shared by the rule tables of this package.

    Every match of ``pattern`` is replaced by ``replace(match)``. ``triggers`` are substrings of
    which at least one must occur for ``pattern`` to be able to match, so the scan can be
    skipped cheaply (empty: always scan).
    """

    pattern: re.Pattern[str]
    replace: Callable[[re.Match[str]], str]
    triggers: tuple[str, ...] = ()

    def may_match(self, text: str) -> bool:
        """False when no trigger occurs in ``text`` (so the pattern cannot match)."""
        return not self.triggers or any(trigger in text for trigger in self.triggers)

    def apply(self, text: str) -> str:
        """Rewrite ``text`` (unchanged when no trigger occurs in it)."""
        if not self.may_match(text):
            return text
        return self.pattern.sub(self.replace, text)


# Titles before a name: always expanded, the period is never a sentence end.
TITLES: dict[str, str] = {
    "Mr": "Mister",
    "Mrs": "Missus",
    "Ms": "Miz",
    "Prof": "Professor",
    "Mt": "Mount",
    "Gen": "General",
    "Capt": "Captain",
    "Lt": "Lieutenant",
    "Sgt": "Sergeant",
    "Col": "Colonel",
    "Rev": "Reverend",
    "Gov": "Governor",
    "Sen": "Senator",
    "Pres": "President",
}
# Titles that may also be written without a period ("Mr Smith") when a capitalised name follows.
TITLES_WITHOUT_PERIOD = ("Mr", "Mrs", "Ms", "Prof")

# Abbreviations that usually close a name or phrase and can therefore end a sentence.
TRAILING: dict[str, str] = {
    "Jr": "Junior",
    "Sr": "Senior",
    "Inc": "Incorporated",
    "Ltd": "Limited",
    "Co": "Company",
    "Corp": "Corporation",
    "Bros": "Brothers",
    "Ave": "Avenue",
    "Blvd": "Boulevard",
    "Rd": "Road",
    "Hwy": "Highway",
    "Dept": "Department",
}
# Of those, the ones common enough without a period to expand anyway ("Acme Inc").
TRAILING_WITHOUT_PERIOD = ("Jr", "Inc", "Ltd", "Corp")

# Latin and shorthand; the key is the regex, the expansion keeps the source's first capital.
LATIN: dict[str, str] = {
    r"[Ee]\.\s?g\.": "for example",
    r"[Ii]\.\s?e\.": "that is",
    r"[Ee]tc\.?": "et cetera",
    r"[Vv]s\.?": "versus",
    r"[Aa]pprox\.?": "approximately",
    r"[Cc]f\.": "compare",
    r"[Aa]\.k\.a\.|[Aa]ka": "also known as",
    r"w/o": "without",
    r"w/": "with",
}
_LATIN_TRIGGERS = ("g.", "e.", "tc", "vs", "Vs", "pprox", "f.", "k.a", "ka", "w/")
# Of those, the ones that can close a sentence ("... apples, pears, etc. Then ...").
LATIN_SENTENCE_FINAL = frozenset({"et cetera"})

# Abbreviations read only before a number: "No. 5" -> "number five". "No"/"Nos" must be
# capitalised ("I said no. 5 people came"); the others match in any case ("see fig. 3").
BEFORE_NUMBER: dict[str, str] = {"No": "number", "Nos": "numbers"}
BEFORE_NUMBER_ANY_CASE: dict[str, str] = {
    "fig": "figure",
    "vol": "volume",
    "ch": "chapter",
    "sec": "section",
    "p": "page",
    "pp": "pages",
}

# Capitalised words that start sentences rather than name places or people.
_NOT_NAMES = frozenset({
    "A", "An", "And", "As", "At", "But", "By", "For", "From", "He", "Her", "His", "How", "I",
    "If", "In", "It", "Its", "My", "No", "Of", "On", "Or", "Our", "She", "So", "That", "The",
    "Their", "Then", "There", "These", "They", "This", "Those", "To", "We", "What", "When",
    "Where", "Who", "Why", "You", "Your", "Yes", "After", "Before", "Also", "However"
})  # fmt: skip

_SENTENCE_CONTINUES = re.compile(r"\s*$|\s+[\"'(\[]*[A-Z]")
_NEXT_WORD = re.compile(r"\s+([A-Z][\w'-]*)")
_PREVIOUS_WORD = re.compile(r"([A-Z][\w'-]*)\s+$")
_CLAUSE_START = re.compile(r"(?:^|[.!?:;\"'(\[])\s*$")
_LOOKBEHIND_CHARS = 40


def ends_sentence(match: re.Match[str]) -> bool:
    """True when the text after ``match`` looks like a new sentence (or the end of text)."""
    return _SENTENCE_CONTINUES.match(match.string, match.end()) is not None


def _next_is_name(match: re.Match[str]) -> bool:
    """True when a capitalised word that is not a common sentence starter follows the match."""
    following = _NEXT_WORD.match(match.string, match.end())
    return following is not None and following.group(1) not in _NOT_NAMES


def _previous_is_name(match: re.Match[str]) -> bool:
    """True when a capitalised word that does not start the sentence precedes the match."""
    text, start = match.string, match.start()
    found = _PREVIOUS_WORD.search(text, max(0, start - _LOOKBEHIND_CHARS), start)
    if found is None or found.group(1) in _NOT_NAMES:
        return False
    return _CLAUSE_START.search(text, max(0, found.start() - 3), found.start()) is None


def _with_period(expansion: str, match: re.Match[str]) -> str:
    """Append a period when the abbreviation's own period also ended the sentence."""
    had_period = match.group(0).endswith(".")
    return expansion + "." if had_period and ends_sentence(match) else expansion


def _keep_case(expansion: str, source: str) -> str:
    """Capitalise the expansion when the abbreviation was capitalised ("E.g." -> "For example")."""
    return expansion[0].upper() + expansion[1:] if source[:1].isupper() else expansion


def _title(match: re.Match[str]) -> str:
    """Expand a title such as "Mr." or "Prof"."""
    return TITLES[match["title"] or match["bare"]]


def _trailing(match: re.Match[str]) -> str:
    """Expand "Jr.", "Inc.", "Ave." ..., keeping a period that ended the sentence."""
    return _with_period(TRAILING[match["trailing"] or match["bare"]], match)


def _saint_or_street(match: re.Match[str]) -> str:
    """Read "St." as Saint before a capitalised name ("St. Louis"), else Street ("Main St.")."""
    return "Saint" if _next_is_name(match) else _with_period("Street", match)


def _doctor_or_drive(match: re.Match[str]) -> str:
    """Read "Dr." as Drive after a street name ("on Mulholland Dr."), else as Doctor."""
    if _previous_is_name(match) and not _next_is_name(match):
        return _with_period("Drive", match)
    return "Doctor"


def _latin(match: re.Match[str]) -> str:
    """Expand "e.g.", "etc." and friends, keeping the source's capitalisation."""
    source = match.group(0)
    expansion = next(words for pattern, words in _LATIN_COMPILED if pattern.fullmatch(source))
    if expansion in LATIN_SENTENCE_FINAL:
        return _with_period(_keep_case(expansion, source), match)
    return _keep_case(expansion, source)


def _before_number(match: re.Match[str]) -> str:
    """Expand "No." / "Fig." / "p." when a number follows."""
    abbr = match["abbr"]
    return (BEFORE_NUMBER.get(abbr) or BEFORE_NUMBER_ANY_CASE[abbr.lower()]) + " "


def alternation(words: Iterable[str]) -> str:
    """Regex alternation of literal words, longest first ("Mrs" before "Mr", "km/h" before "km")."""
    return "|".join(sorted((re.escape(w) for w in words), key=len, reverse=True))


_LATIN_COMPILED = tuple((re.compile(p), w) for p, w in LATIN.items())
_NAME_AHEAD = r"(?=\s+[A-Z])"

RULES: tuple[Rule, ...] = (
    Rule(
        re.compile(
            rf"\b(?P<abbr>{alternation(BEFORE_NUMBER)}|(?i:{alternation(BEFORE_NUMBER_ANY_CASE)}))"
            r"\.\s?(?=\d)"
        ),
        _before_number,
        tuple("0123456789"),
    ),
    Rule(
        re.compile(
            rf"\b(?:(?P<title>{alternation(TITLES)})\."
            rf"|(?P<bare>{alternation(TITLES_WITHOUT_PERIOD)}){_NAME_AHEAD})"
        ),
        _title,
        (*(f"{title}." for title in TITLES), *TITLES_WITHOUT_PERIOD),
    ),
    Rule(re.compile(rf"\b(?:St\.|st\.|St{_NAME_AHEAD})"), _saint_or_street, ("St", "st.")),
    Rule(re.compile(rf"\b(?:Dr\.|Dr{_NAME_AHEAD})"), _doctor_or_drive, ("Dr",)),
    Rule(
        re.compile(
            rf"\b(?:(?P<trailing>{alternation(TRAILING)})\."
            rf"|(?P<bare>{alternation(TRAILING_WITHOUT_PERIOD)})\b(?!'))"
        ),
        _trailing,
        (*(f"{word}." for word in TRAILING), *TRAILING_WITHOUT_PERIOD),
    ),
    Rule(re.compile(rf"(?<![\w.])(?:{'|'.join(LATIN)})(?![\w/])"), _latin, _LATIN_TRIGGERS),
)
