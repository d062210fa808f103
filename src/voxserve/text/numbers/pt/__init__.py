"""Portuguese: "3 de maio", "14h30", "R$ 25,50", "1º", "Sr." as Portuguese speakers say them."""

from __future__ import annotations

from voxserve.text.numbers.locale import Currency, LanguageSpec, build_rules
from voxserve.text.numbers.spelling import spell_cardinal


def _cardinal(number: int) -> str:
    return spell_cardinal(str(number), "pt") or str(number)


def _feminine_number(words: str) -> str:
    """Hours are feminine: "um" -> "uma", "dois" -> "duas" (also at the end: "vinte e uma")."""
    last = words.rsplit(" ", 1)
    tail = {"um": "uma", "dois": "duas"}.get(last[-1], last[-1])
    return " ".join([*last[:-1], tail])


def _clock(hour: str, minutes: str | None, number: int) -> str:
    said = _feminine_number(hour)
    if minutes:
        return f"{said} e {minutes}"
    return f"{said} {'hora' if number == 1 else 'horas'}"


def _money(words: str, currency: Currency, cents: str | None, value: int) -> str:
    if value == 0 and cents:
        return f"{cents} {currency.cent_plural}"
    said = f"{words} {currency.singular if value == 1 else currency.plural}"
    return f"{said} e {cents} {currency.cent_plural}" if cents else said


_MONTHS = ("janeiro", "fevereiro", "março", "abril", "maio", "junho", "julho", "agosto",
           "setembro", "outubro", "novembro", "dezembro")


def _date(day: int, month: int, year: int | None, _before: str) -> str:
    said = f"{'primeiro' if day == 1 else _cardinal(day)} de {_MONTHS[month - 1]}"
    return f"{said} de {_cardinal(year)}" if year is not None else said


def _feminine(words: str) -> str:
    return " ".join(word[:-1] + "a" if word.endswith("o") else word for word in words.split())


SPEC = LanguageSpec(
    code="pt",
    decimal=",",
    group=".",
    decimal_word="vírgula",
    minus_word="menos",
    percent_word="por cento",
    months=_MONTHS,
    clock=_clock,
    money=_money,
    date=_date,
    currencies={
        "R$": Currency("real", "reais", "centavo", "centavos"),
        "BRL": Currency("real", "reais", "centavo", "centavos"),
        "€": Currency("euro", "euros", "cêntimo", "cêntimos"),
        "EUR": Currency("euro", "euros", "cêntimo", "cêntimos"),
        "US$": Currency("dólar", "dólares", "centavo", "centavos"),
        "$": Currency("dólar", "dólares", "centavo", "centavos"),
        "USD": Currency("dólar", "dólares", "centavo", "centavos"),
    },
    units={
        "km/h": ("quilômetro por hora", "quilômetros por hora"),
        "km": ("quilômetro", "quilômetros"), "m": ("metro", "metros"),
        "cm": ("centímetro", "centímetros"), "mm": ("milímetro", "milímetros"),
        "kg": ("quilograma", "quilogramas"), "g": ("grama", "gramas"),
        "l": ("litro", "litros"), "ml": ("mililitro", "mililitros"),
        "°C": ("grau Celsius", "graus Celsius"), "°": ("grau", "graus"),
    },
    abbreviations={
        "Sr.": "senhor", "Sra.": "senhora", "Srta.": "senhorita", "Dr.": "doutor",
        "Dra.": "doutora", "Prof.": "professor", "Profa.": "professora", "etc.": "etcétera",
        "p.ex.": "por exemplo", "Av.": "avenida", "nº": "número", "n.º": "número",
        "pág.": "página", "V.Exa.": "Vossa Excelência",
    },
    sentence_final=frozenset({"etc."}),
    ordinal_suffixes={r"\.?º": "m", r"\.?ª": "f"},
    feminine=_feminine,
    symbols={"&": "e"},
)
RULES = build_rules(SPEC)
