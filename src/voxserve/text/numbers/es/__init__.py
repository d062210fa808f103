"""Spanish: "3 de mayo", "14:30", "25,50 €", "1.º", "Sr." as Spanish speakers say them."""

from __future__ import annotations

from voxserve.text.numbers.locale import Currency, LanguageSpec, build_rules
from voxserve.text.numbers.spelling import spell_cardinal


def _cardinal(number: int) -> str:
    return spell_cardinal(str(number), "es") or str(number)


def before_noun(words: str) -> str:
    """"uno" -> "un", "veintiuno" -> "veintiún" before a masculine noun."""
    if words.endswith("veintiuno"):
        return words.removesuffix("veintiuno") + "veintiún"
    return words.removesuffix("uno") + "un" if words.endswith("uno") else words


def _feminine_hour(words: str) -> str:
    """Hours are feminine (la una, las veintiuna)."""
    return words.removesuffix("uno") + "una" if words.endswith("uno") else words


def _clock(hour: str, minutes: str | None, _hour: int) -> str:
    said = _feminine_hour(hour)
    return f"{said} y {minutes}" if minutes else f"{said} en punto"


def _money(words: str, currency: Currency, cents: str | None, value: int) -> str:
    if value == 0 and cents:
        return f"{cents} {currency.cent_plural}"
    said = f"{words} {currency.singular if value == 1 else currency.plural}"
    return f"{said} con {cents} {currency.cent_plural}" if cents else said


_MONTHS = ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
           "septiembre", "octubre", "noviembre", "diciembre")


def _date(day: int, month: int, year: int | None, _before: str) -> str:
    said = f"{'primero' if day == 1 else _cardinal(day)} de {_MONTHS[month - 1]}"
    return f"{said} de {_cardinal(year)}" if year is not None else said


def _feminine(words: str) -> str:
    """"primero" -> "primera", "vigésimo primero" -> "vigésima primera"."""
    return " ".join(word[:-1] + "a" if word.endswith("o") else word for word in words.split())


CURRENCIES = {
    "€": Currency("euro", "euros", "céntimo", "céntimos"),
    "EUR": Currency("euro", "euros", "céntimo", "céntimos"),
    "$": Currency("dólar", "dólares", "centavo", "centavos"),
    "USD": Currency("dólar", "dólares", "centavo", "centavos"),
    "£": Currency("libra", "libras", "penique", "peniques"),
    "MXN": Currency("peso", "pesos", "centavo", "centavos"),
}

SPEC = LanguageSpec(
    code="es",
    decimal=",.",
    group=".",
    decimal_word="coma",
    minus_word="menos",
    percent_word="por ciento",
    months=(*_MONTHS, "setiembre"),
    clock=_clock,
    money=_money,
    date=_date,
    currencies=CURRENCIES,
    units={
        "km/h": ("kilómetro por hora", "kilómetros por hora"),
        "km": ("kilómetro", "kilómetros"), "m": ("metro", "metros"),
        "cm": ("centímetro", "centímetros"), "mm": ("milímetro", "milímetros"),
        "kg": ("kilogramo", "kilogramos"), "g": ("gramo", "gramos"),
        "l": ("litro", "litros"), "ml": ("mililitro", "mililitros"),
        "°C": ("grado Celsius", "grados Celsius"), "°": ("grado", "grados"),
    },
    abbreviations={
        "Sr.": "señor", "Sra.": "señora", "Srta.": "señorita", "Dr.": "doctor",
        "Dra.": "doctora", "Ud.": "usted", "Uds.": "ustedes", "etc.": "etcétera",
        "p.ej.": "por ejemplo", "núm.": "número", "Av.": "avenida", "aprox.": "aproximadamente",
        "EE.UU.": "Estados Unidos", "pág.": "página", "Prof.": "profesor",
    },
    sentence_final=frozenset({"etc.", "EE.UU."}),
    # primero/tercero lose their -o before a noun: "1.º piso" -> "primer piso"
    ordinal_suffixes={r"\.?º(?=\s+\w)": "short", r"\.?º": "m", r"\.?ª": "f", r"\.?er": "short"},
    before_noun=before_noun,
    feminine=_feminine,
    symbols={"&": "y"},
)
RULES = build_rules(SPEC)
