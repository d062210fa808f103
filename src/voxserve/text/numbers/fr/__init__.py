"""French: "1er mai", "14h30", "25,50 €", "2e", "M." as French speakers say them."""

from __future__ import annotations

from voxserve.text.numbers.locale import Currency, LanguageSpec, build_rules
from voxserve.text.numbers.spelling import spell_cardinal


def _cardinal(number: int) -> str:
    return spell_cardinal(str(number), "fr") or str(number)


def _feminine_number(words: str) -> str:
    """"un" -> "une", "vingt et un" -> "vingt et une" (une heure)."""
    return words + "e" if words == "un" or words.endswith(" un") else words


def _clock(hour: str, minutes: str | None, number: int) -> str:
    said = f"{_feminine_number(hour)} {'heure' if number <= 1 else 'heures'}"
    return f"{said} {minutes}" if minutes else said


def _money(words: str, currency: Currency, cents: str | None, value: int) -> str:
    if value == 0 and cents:
        return f"{cents} {currency.cent_plural}"
    said = f"{words} {currency.singular if value <= 1 else currency.plural}"
    return f"{said} {cents}" if cents else said


_MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
           "octobre", "novembre", "décembre")


def _date(day: int, month: int, year: int | None, _before: str) -> str:
    said = f"{'premier' if day == 1 else _cardinal(day)} {_MONTHS[month - 1]}"
    return f"{said} {_cardinal(year)}" if year is not None else said


def _feminine(words: str) -> str:
    return words.replace("premier", "première")


SPEC = LanguageSpec(
    code="fr",
    decimal=",",
    group=". ",
    decimal_word="virgule",
    minus_word="moins",
    percent_word="pour cent",
    months=_MONTHS,
    clock=_clock,
    money=_money,
    date=_date,
    currencies={
        "€": Currency("euro", "euros", "centime", "centimes"),
        "EUR": Currency("euro", "euros", "centime", "centimes"),
        "$": Currency("dollar", "dollars", "cent", "cents"),
        "USD": Currency("dollar", "dollars", "cent", "cents"),
        "£": Currency("livre", "livres", "penny", "pence"),
        "CHF": Currency("franc", "francs", "centime", "centimes"),
    },
    units={
        "km/h": ("kilomètre à l'heure", "kilomètres à l'heure"),
        "km": ("kilomètre", "kilomètres"), "m": ("mètre", "mètres"),
        "cm": ("centimètre", "centimètres"), "mm": ("millimètre", "millimètres"),
        "kg": ("kilogramme", "kilogrammes"), "g": ("gramme", "grammes"),
        "l": ("litre", "litres"), "ml": ("millilitre", "millilitres"),
        "°C": ("degré Celsius", "degrés Celsius"), "°": ("degré", "degrés"),
    },
    abbreviations={
        "M.": "Monsieur", "MM.": "Messieurs", "Mme": "Madame", "Mmes": "Mesdames",
        "Mlle": "Mademoiselle", "Dr": "Docteur", "Dr.": "Docteur", "Pr": "Professeur",
        "etc.": "et cetera", "p.ex.": "par exemple", "c.-à-d.": "c'est-à-dire",
        "av.": "avenue", "bd": "boulevard", "n°": "numéro", "env.": "environ",
        "St": "Saint", "Ste": "Sainte",
    },
    sentence_final=frozenset({"etc."}),
    ordinal_suffixes={r"(?:re|ère)": "f", r"er": "m", r"(?:ème|e|nd|nde)": "m"},
    feminine=_feminine,
    symbols={"&": "et"},
)
RULES = build_rules(SPEC)
