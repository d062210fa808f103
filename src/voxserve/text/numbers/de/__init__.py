"""German: "am 3. Mai", "14:30 Uhr", "25,50 €", "Dr.", "z. B." as German speakers say them."""

from __future__ import annotations

import re

from voxserve.text.abbreviations import Rule
from voxserve.text.numbers.locale import Currency, LanguageSpec, ascii_digits, build_rules
from voxserve.text.numbers.spelling import spell_cardinal, spell_ordinal

_DATIVE = frozenset({"am", "vom", "zum", "im", "beim", "dem", "den", "seit", "bis", "ab", "vor",
                     "nach", "einem"})
_NOMINATIVE = frozenset({"der", "die", "das", "jeder", "jede"})


def _cardinal(number: int) -> str:
    return spell_cardinal(str(number), "de") or str(number)


def _ordinal(number: int, before: str) -> str:
    """"dritte" after der/die/das, "dritten" after am/vom/zum/dem/den, else "dritter"."""
    base = spell_ordinal(str(number), "de") or _cardinal(number)
    if before in _DATIVE:
        return base + "n"
    if before in _NOMINATIVE:
        return base
    return base + "r"


def _year(year: int) -> str:
    """1100-1999 as "neunzehnhundertneunundneunzig", other years as cardinals."""
    if 1100 <= year <= 1999:
        rest = year % 100
        return _cardinal(year // 100) + "hundert" + (_cardinal(rest) if rest else "")
    return _cardinal(year)


def _one(words: str) -> str:
    return "ein" if words == "eins" else words


def _clock(hour: str, minutes: str | None, _hour: int) -> str:
    return f"{_one(hour)} Uhr" + (f" {minutes}" if minutes else "")


def _money(words: str, currency: Currency, cents: str | None, value: int) -> str:
    if value == 0 and cents:
        return f"{cents} {currency.cent_plural}"
    unit = currency.singular if value == 1 else currency.plural
    return f"{words} {unit}" + (f" {cents}" if cents else "")


_MONTHS = ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September",
           "Oktober", "November", "Dezember")


def _date(day: int, month: int, year: int | None, before: str) -> str:
    said = f"{_ordinal(day, before)} {_MONTHS[month - 1]}"
    return f"{said} {_year(year)}" if year is not None else said


def _article_ordinal(match: re.Match[str]) -> str:
    """"der 3. Platz" -> "der dritte Platz", "am 5. Tag" -> "am fünften Tag"."""
    article = match["art"]
    return f"{article} {_ordinal(int(ascii_digits(match['n'])), article.lower())}"


def _year_after(match: re.Match[str]) -> str:
    """"im Jahr 1999" -> "im Jahr neunzehnhundertneunundneunzig" (a count stays a count)."""
    return f"{match['before']} {_year(int(match['year']))}"


_YEAR = Rule(
    re.compile(r"\b(?P<before>(?i:im|seit|bis|von|ab|anno|jahre?|um|vor|nach))\s"
               r"(?P<year>1[1-9][0-9]{2})(?![0-9.,])"),
    _year_after,
)

_ARTICLE_ORDINAL = Rule(
    re.compile(
        r"\b(?P<art>(?i:der|die|das|dem|den|am|zum|im|vom|beim|jeder|jede))\s"
        r"(?P<n>[0-9]{1,3})\.(?=\s+\w)(?!\s+(?:Januar|Februar|März|April|Mai|Juni|Juli|August"
        r"|September|Oktober|November|Dezember)\b)"
    ),
    _article_ordinal,
)

SPEC = LanguageSpec(
    code="de",
    decimal=",.",
    group=".",
    decimal_word="Komma",
    minus_word="minus",
    percent_word="Prozent",
    months=(*_MONTHS, "Jänner"),
    clock=_clock,
    money=_money,
    date=_date,
    currencies={
        "€": Currency("Euro", "Euro", "Cent", "Cent"),
        "EUR": Currency("Euro", "Euro", "Cent", "Cent"),
        "$": Currency("Dollar", "Dollar", "Cent", "Cent"),
        "USD": Currency("Dollar", "Dollar", "Cent", "Cent"),
        "£": Currency("Pfund", "Pfund", "Pence", "Pence"),
        "CHF": Currency("Franken", "Franken", "Rappen", "Rappen"),
    },
    units={
        "km/h": ("Kilometer pro Stunde", "Kilometer pro Stunde"),
        "km": ("Kilometer", "Kilometer"), "m": ("Meter", "Meter"),
        "cm": ("Zentimeter", "Zentimeter"), "mm": ("Millimeter", "Millimeter"),
        "kg": ("Kilogramm", "Kilogramm"), "g": ("Gramm", "Gramm"),
        "l": ("Liter", "Liter"), "ml": ("Milliliter", "Milliliter"),
        "°C": ("Grad Celsius", "Grad Celsius"), "°": ("Grad", "Grad"),
        "Std.": ("Stunde", "Stunden"), "Min.": ("Minute", "Minuten"),
    },
    abbreviations={
        "Dr.": "Doktor", "Prof.": "Professor", "Hr.": "Herr", "Fr.": "Frau", "Nr.": "Nummer",
        "z.B.": "zum Beispiel", "usw.": "und so weiter", "bzw.": "beziehungsweise",
        "d.h.": "das heißt", "ca.": "circa", "St.": "Sankt", "Str.": "Straße",
        "u.a.": "unter anderem", "etc.": "et cetera", "evtl.": "eventuell",
        "ggf.": "gegebenenfalls", "inkl.": "inklusive", "Mio.": "Millionen",
        "Mrd.": "Milliarden", "Tel.": "Telefon", "vgl.": "vergleiche",
    },
    sentence_final=frozenset({"usw.", "etc.", "u.a."}),
    before_noun=_one,
    extra=(_ARTICLE_ORDINAL, _YEAR),
    fraction_by_digit=True,
    symbols={"&": "und", "§": "Paragraf"},
)
RULES = build_rules(SPEC)
