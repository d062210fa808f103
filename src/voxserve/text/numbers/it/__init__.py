"""Italian: "1° maggio", "14:30", "25,50 €", "3ª", "Sig.ra" as Italian speakers say them."""

from __future__ import annotations

from voxserve.text.numbers.locale import Currency, LanguageSpec, build_rules
from voxserve.text.numbers.spelling import spell_cardinal


def _cardinal(number: int) -> str:
    return spell_cardinal(str(number), "it") or str(number)


def _before_noun(words: str) -> str:
    """"uno" -> "un", "ventuno" -> "ventun" before a masculine noun."""
    return words[:-1] if words.endswith("uno") else words


def _clock(hour: str, minutes: str | None, _number: int) -> str:
    said = "una" if hour == "uno" else hour
    return f"{said} e {minutes}" if minutes else said


def _money(words: str, currency: Currency, cents: str | None, value: int) -> str:
    if value == 0 and cents:
        return f"{cents} {currency.cent_plural}"
    said = f"{words} {currency.singular if value == 1 else currency.plural}"
    return f"{said} e {cents}" if cents else said


_MONTHS = ("gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto",
           "settembre", "ottobre", "novembre", "dicembre")


def _date(day: int, month: int, year: int | None, _before: str) -> str:
    said = f"{'primo' if day == 1 else _cardinal(day)} {_MONTHS[month - 1]}"
    return f"{said} {_cardinal(year)}" if year is not None else said


def _feminine(words: str) -> str:
    return words[:-1] + "a" if words.endswith("o") else words


SPEC = LanguageSpec(
    code="it",
    decimal=",",
    group=".",
    decimal_word="virgola",
    minus_word="meno",
    percent_word="per cento",
    months=_MONTHS,
    clock=_clock,
    money=_money,
    date=_date,
    currencies={
        "€": Currency("euro", "euro", "centesimo", "centesimi"),
        "EUR": Currency("euro", "euro", "centesimo", "centesimi"),
        "$": Currency("dollaro", "dollari", "centesimo", "centesimi"),
        "USD": Currency("dollaro", "dollari", "centesimo", "centesimi"),
        "£": Currency("sterlina", "sterline", "penny", "pence"),
        "CHF": Currency("franco", "franchi", "centesimo", "centesimi"),
    },
    units={
        "km/h": ("chilometro orario", "chilometri orari"),
        "km": ("chilometro", "chilometri"), "m": ("metro", "metri"),
        "cm": ("centimetro", "centimetri"), "mm": ("millimetro", "millimetri"),
        "kg": ("chilogrammo", "chilogrammi"), "g": ("grammo", "grammi"),
        "l": ("litro", "litri"), "ml": ("millilitro", "millilitri"),
        "°C": ("grado Celsius", "gradi Celsius"),
    },
    abbreviations={
        "Sig.": "signor", "Sig.ra": "signora", "Sigg.": "signori", "Dott.": "dottor",
        "Dott.ssa": "dottoressa", "Dr.": "dottor", "Prof.": "professor",
        "Prof.ssa": "professoressa", "ecc.": "eccetera", "etc.": "eccetera",
        "p.es.": "per esempio", "pag.": "pagina", "S.p.A.": "Società per Azioni",
    },
    sentence_final=frozenset({"ecc.", "etc.", "S.p.A."}),
    ordinal_suffixes={r"[º°]": "m", r"ª": "f"},
    before_noun=_before_noun,
    feminine=_feminine,
    symbols={"&": "e"},
)
RULES = build_rules(SPEC)
