"""English money and percentages: "$5.50" -> "five dollars and fifty cents", "50%"."""

from __future__ import annotations

import re

from voxserve.text.abbreviations import Rule, alternation
from voxserve.text.numbers.en.common import NUMBER, is_one, pad
from voxserve.text.numbers.en.lexicon import CURRENCY_CODES, CURRENCY_SYMBOLS, SCALES, Currency
from voxserve.text.numbers.spelling import (
    plain_digits,
    spell_cardinal,
    spell_decimal,
    spell_signed,
)

_CODES = alternation(CURRENCY_CODES)
_SYMBOLS = "[" + "".join(CURRENCY_SYMBOLS) + "]"
_SCALE = r"(?:\s?(?P<scale>" + alternation(SCALES) + r")(?!\w))?"
_AMOUNT = rf"{NUMBER}{_SCALE}"


def _say_amount(
    currency: Currency, digits: str, fraction: str | None, scale: str | None
) -> str | None:
    """Spoken money amount: "five dollars and fifty cents", "two point five million dollars"."""
    if scale or (fraction and (len(fraction) > 2 or currency.minors is None)):
        number = spell_decimal(digits, fraction)
        scale_words = f" {SCALES[scale]}" if scale else ""
        return None if number is None else f"{number}{scale_words} {currency.majors}"
    cents = (fraction or "").ljust(2, "0")
    major, minor = spell_cardinal(digits), spell_cardinal(cents.lstrip("0") or "0")
    if major is None or minor is None:
        return None
    parts = []
    if cents == "00" or plain_digits(digits).strip("0"):
        parts.append(f"{major} {currency.major if is_one(digits) else currency.majors}")
    if cents != "00":
        parts.append(f"{minor} {currency.minor if cents == '01' else currency.minors}")
    return " and ".join(parts)


def _money(match: re.Match[str]) -> str:
    """Read money ("$5.50", "USD 10", "10 €") as an amount with the currency name."""
    groups = match.groupdict()
    symbol, code = groups.get("sym"), groups.get("code")
    currency = CURRENCY_SYMBOLS[symbol] if symbol else CURRENCY_CODES[code or "USD"]
    spoken = _say_amount(currency, match["int"], match["frac"], match["scale"])
    if spoken is None:
        return match.group(0)
    return pad(match, f"minus {spoken}" if groups.get("sign") == "-" else spoken)


#: "$5.50", "-€2bn"
SYMBOL_FIRST = Rule(
    re.compile(rf"(?<![\w$€£¥₹])(?P<sign>-)?(?P<sym>{_SYMBOLS})\s?{_AMOUNT}"),
    _money,
    tuple(CURRENCY_SYMBOLS),
)
#: "USD 10"
CODE_FIRST = Rule(
    re.compile(rf"\b(?P<code>{_CODES})\s?(?P<sign>-)?{_AMOUNT}"), _money, tuple(CURRENCY_CODES)
)
#: "10 €", "5 USD"
AMOUNT_FIRST = Rule(
    re.compile(rf"(?<![\w.,])(?P<sign>-)?{_AMOUNT}\s?(?:(?P<sym>{_SYMBOLS})|(?P<code>{_CODES})\b)"),
    _money,
    (*CURRENCY_SYMBOLS, *CURRENCY_CODES),
)


def _percent(match: re.Match[str]) -> str:
    """Read percentages: "50%" -> "fifty percent"."""
    number = spell_signed(match["sign"], match["int"], match["frac"])
    return match.group(0) if number is None else pad(match, f"{number} percent")


PERCENT = Rule(re.compile(rf"(?<![\w.,])(?P<sign>[-+±])?{NUMBER}\s?%"), _percent, ("%",))
