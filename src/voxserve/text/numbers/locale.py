"""Number and abbreviation rules for a language other than English, built from a table.

Each language package beside :mod:`.en` (``de``, ``es``, ``fr``, ``pt``, ``it``, ``fa``)
defines one :class:`LanguageSpec`: its words (months, currencies, units, abbreviations, the
decimal comma) and the few functions where its grammar differs (how a clock time, an amount of
money or a date is said). :func:`build_rules` turns a spec into the ordered rules the
normalizer applies: abbreviations, dates, times, money, percentages, units, ordinals, then
every remaining number. num2words spells the numbers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from voxserve.text.abbreviations import Rule, alternation
from voxserve.text.numbers.spelling import (
    resolve_language,
    spell_cardinal,
    spell_digits,
    spell_ordinal,
)

#: Digits as the rules see them: ASCII, Persian (۰-۹) and Arabic-Indic (٠-٩).
DIGIT = r"[0-9۰-۹٠-٩]"
_DIGIT_MAP = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")


def ascii_digits(text: str) -> str:
    """"۱۴" -> "14" (Persian and Arabic-Indic digits to ASCII)."""
    return text.translate(_DIGIT_MAP)


@dataclass(frozen=True)
class Currency:
    """How a language names a currency and its hundredth."""

    singular: str
    plural: str
    cent_singular: str = ""
    cent_plural: str = ""


def _same(words: str) -> str:
    return words


@dataclass(frozen=True)
class LanguageSpec:
    """Everything a language's rules need. Functions get spelled words, never digits."""

    code: str  # num2words code
    decimal: str  # decimal separator(s) as written, first is the usual one
    group: str  # thousands separator(s)
    decimal_word: str
    minus_word: str
    percent_word: str
    months: tuple[str, ...]  # January first
    #: (hour words, minute words or None, the hour as a number) -> the clock time said
    clock: Callable[[str, str | None, int], str]
    #: (amount words, currency, cents words or None, amount) -> the amount said
    money: Callable[[str, Currency, str | None, int], str]
    #: (day, month, year or None) as numbers, the word before the date -> the date said
    date: Callable[[int, int, int | None, str], str]
    currencies: Mapping[str, Currency] = field(default_factory=dict)
    #: unit as written -> (singular, plural)
    units: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    #: abbreviation as written (with its period) -> expansion
    abbreviations: Mapping[str, str] = field(default_factory=dict)
    #: abbreviations that may end a sentence (their period is kept there)
    sentence_final: frozenset[str] = frozenset()
    #: regex suffix of a written ordinal -> "m" or "f" (the grammatical gender said)
    ordinal_suffixes: Mapping[str, str] = field(default_factory=dict)
    #: words a number is said with before a noun ("eins" -> "ein", "uno" -> "un")
    before_noun: Callable[[str], str] = _same
    #: masculine ordinal words -> feminine
    feminine: Callable[[str], str] = _same
    #: extra rules run first (e.g. German "3." after an article)
    extra: tuple[Rule, ...] = ()
    #: date order of numeric dates: "dmy" or "ymd"
    date_order: str = "dmy"
    #: read the digits after the decimal sign one by one ("drei Komma eins vier")
    fraction_by_digit: bool = False
    symbols: Mapping[str, str] = field(default_factory=dict)

    # --- spelling helpers -------------------------------------------------------------

    def cardinal(self, digits: str) -> str:
        """A number in words (the digits themselves when num2words cannot spell it)."""
        return spell_cardinal(ascii_digits(digits), self.code) or digits

    def ordinal(self, digits: str, gender: str = "m") -> str:
        words = spell_ordinal(ascii_digits(digits), self.code) or self.cardinal(digits)
        if gender == "short":  # Spanish "1er", "3er": primer, tercer
            return words.removesuffix("o") if words.endswith(("primero", "tercero")) else words
        return self.feminine(words) if gender == "f" else words

    def number(self, whole: str, fraction: str | None) -> str:
        """A number with an optional fraction part, in words."""
        plain = re.sub(f"[{re.escape(self.group)}]", "", ascii_digits(whole))
        words = self.cardinal(plain)
        if fraction is None:
            return words
        fraction = ascii_digits(fraction)
        if self.fraction_by_digit or fraction.startswith("0"):
            spoken = spell_digits(fraction, self.code) or fraction
        else:
            spoken = self.cardinal(fraction)
        return f"{words} {self.decimal_word} {spoken}"


def build_rules(spec: LanguageSpec) -> tuple[Rule, ...]:
    """The ordered rules for ``spec`` (see the module doc)."""
    d = DIGIT
    dec = f"[{re.escape(spec.decimal)}]"
    grp = f"[{re.escape(spec.group)}]"
    # An amount: grouped digits or plain digits, then an optional fraction.
    amount = rf"(?P<int>{d}{{1,3}}(?:{grp}{d}{{3}})+(?!{d})|{d}+)(?:{dec}(?P<frac>{d}+))?"
    rules: list[Rule] = list(spec.extra)

    if spec.abbreviations:
        rules.append(_abbreviation_rule(spec))

    months = alternation(spec.months)
    month_number = {name.lower(): i for i, name in enumerate(spec.months, start=1)}

    def numeric_date(match: re.Match[str]) -> str:
        numbers = [int(ascii_digits(part)) for part in (match["a"], match["b"], match["c"])]
        year, month, day = numbers
        if not (1 <= month <= 12 and 1 <= day <= 31):
            return match.group(0)
        return spec.date(day, month, year, _previous_word(match))

    if spec.date_order == "ymd":
        numeric = rf"(?<!{d})(?P<a>{d}{{4}})[/.-](?P<b>{d}{{1,2}})[/.-](?P<c>{d}{{1,2}})(?!{d})"
    else:
        numeric = rf"(?<!{d})(?P<c>{d}{{1,2}})[/.](?P<b>{d}{{1,2}})[/.](?P<a>{d}{{4}})(?!{d})"
    rules.append(Rule(re.compile(numeric), numeric_date))

    def written_date(match: re.Match[str]) -> str:
        year = int(ascii_digits(match["year"])) if match["year"] else None
        month = month_number[match["month"].lower()]
        return spec.date(int(ascii_digits(match["day"])), month, year, _previous_word(match))

    rules.append(Rule(
        re.compile(
            rf"(?<![\w.]){'(?P<day>' + d + '{1,2})'}\.?(?:º|°|er|o)?\s(?:de\s)?"
            rf"(?P<month>(?i:{months}))\b(?:,?\s(?:de\s)?(?P<year>{d}{{4}})(?!{d}))?"
        ),
        written_date,
    ))

    def clock(match: re.Match[str]) -> str:
        hour = int(ascii_digits(match["h"]))
        minutes = match["m"]
        minute_words = None if minutes is None or int(ascii_digits(minutes)) == 0 \
            else spec.cardinal(ascii_digits(minutes).lstrip("0") or "0")
        return spec.clock(spec.cardinal(str(hour)), minute_words, hour)

    hour = rf"(?P<h>[01]?{d}|2[0-3]|[۰۱]?[۰-۹]|۲[۰-۳])"
    rules.append(Rule(
        re.compile(
            rf"(?<![\w.:,]){hour}(?:[:h](?P<m>[0-5۰-۵]{d})|\.(?P<m2>[0-5]{d})(?=\s?Uhr))"
            rf"(?:\s?(?:Uhr|h|horas?|heures?|ore)\b)?(?![\w:])"
        ),
        lambda m: clock(_with_minutes(m)),
    ))
    rules.append(Rule(
        re.compile(rf"(?<![\w.:,]){hour}h(?![\w:])"),
        lambda m: spec.clock(spec.cardinal(ascii_digits(m["h"])), None, int(ascii_digits(m["h"]))),
    ))

    if spec.currencies:
        symbols = alternation(spec.currencies)

        def money(match: re.Match[str]) -> str:
            currency = spec.currencies[match["cur"]]
            whole = re.sub(f"[{re.escape(spec.group)}]", "", ascii_digits(match["int"]))
            cents = match["frac"]
            value = int(whole)
            words = spec.before_noun(spec.cardinal(whole))
            cent_words = None
            if cents is not None:
                cents = ascii_digits(cents)
                if len(cents) != 2:  # not a price: read the decimal number, then the unit
                    return f"{spec.number(match['int'], match['frac'])} {currency.plural}"
                if int(cents):
                    cent_words = spec.before_noun(spec.cardinal(cents.lstrip("0")))
            return spec.money(words, currency, cent_words, value)

        rules.append(Rule(
            re.compile(rf"(?P<cur>{symbols})\s?{amount}(?!{d})"), money
        ))
        rules.append(Rule(
            re.compile(rf"(?<![\w.,]){amount}\s?(?P<cur>{symbols})(?!\w)"), money
        ))

    def percent(match: re.Match[str]) -> str:
        return f"{spec.number(match['int'], match['frac'])} {spec.percent_word}"

    rules.append(Rule(re.compile(rf"(?<![\w.,]){amount}\s?[%٪]"), percent, ()))

    if spec.units:
        units = alternation(spec.units)

        def unit(match: re.Match[str]) -> str:
            singular, plural = spec.units[match["unit"]]
            whole = ascii_digits(match["int"])
            is_one = match["frac"] is None and whole == "1"
            words = spec.number(match["int"], match["frac"])
            if is_one:
                return f"{spec.before_noun(words)} {singular}"
            return f"{words} {plural}"

        rules.append(Rule(
            re.compile(rf"(?<![\w.,]){amount}\s?(?P<unit>{units})(?![\w/])"), unit
        ))

    for suffix, gender in spec.ordinal_suffixes.items():
        rules.append(Rule(
            re.compile(rf"(?<![\w.,])(?P<n>{d}+){suffix}(?!\w)"), _ordinal_reader(spec, gender)
        ))

    for symbol, word in spec.symbols.items():
        rules.append(Rule(re.compile(rf"\s?{re.escape(symbol)}\s?"), _constant(f" {word} "),
                          (symbol,)))

    def number(match: re.Match[str]) -> str:
        words = spec.number(match["int"], match["frac"])
        return f"{spec.minus_word} {words}" if match["sign"] else words

    rules.append(Rule(
        re.compile(rf"(?P<sign>(?<![\w-])-)?(?<![\w.,]){amount}(?!{d})"), number
    ))
    return tuple(rules)


def _ordinal_reader(spec: LanguageSpec, gender: str) -> Callable[[re.Match[str]], str]:
    def read(match: re.Match[str]) -> str:
        return spec.ordinal(match["n"], gender)

    return read


def _constant(said: str) -> Callable[[re.Match[str]], str]:
    def read(_match: re.Match[str]) -> str:
        return said

    return read


def _with_minutes(match: re.Match[str]) -> re.Match[str]:
    return _MinutesMatch(match)  # type: ignore[return-value]


class _MinutesMatch:
    """A clock match with "m" filled from either way of writing the minutes."""

    def __init__(self, match: re.Match[str]) -> None:
        self._match = match

    def __getitem__(self, key: str) -> str | None:
        if key == "m":
            return self._match["m"] or self._match["m2"]
        return self._match[key]


_PREVIOUS = re.compile(r"(\w+)\s*$")


def _previous_word(match: re.Match[str]) -> str:
    """The word right before ``match`` (lower case), or ""."""
    found = _PREVIOUS.search(match.string, max(0, match.start() - 30), match.start())
    return found.group(1).lower() if found else ""


def _abbreviation_rule(spec: LanguageSpec) -> Rule:
    words = spec.abbreviations
    # "z.B." is also written "z. B.": allow a space after an inner period.
    pattern = "|".join(
        re.escape(abbr).replace(r"\.", r"\.\ ?").removesuffix(r"\ ?")
        for abbr in sorted(words, key=len, reverse=True)
    )
    lookup = {abbr.replace(" ", ""): spoken for abbr, spoken in words.items()}
    final = {abbr.replace(" ", "") for abbr in spec.sentence_final}
    ends = re.compile(r"\s*$|\s+[\"'(]*[A-ZÀ-ÝÄÖÜ]")

    def expand(match: re.Match[str]) -> str:
        written = match.group(0).replace(" ", "")
        spoken = lookup[written]
        if written in final and written.endswith(".") and ends.match(match.string, match.end()):
            return spoken + "."
        return spoken

    return Rule(re.compile(rf"(?<![\w.])(?:{pattern})(?!\w)"), expand)


def resolve(code: str) -> str:
    """num2words' code for ``code`` (the code itself when num2words lacks it)."""
    return resolve_language(code) or code
