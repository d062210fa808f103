"""Spelling numbers as words with ``num2words``, in any language it knows.

Every helper takes the digits as a *string* (so arbitrarily long input never hits Python's
int-conversion limit) and returns ``None`` when ``num2words`` cannot spell it, so callers can
leave the original text in place instead of failing.
"""

from __future__ import annotations

import threading
from decimal import Decimal
from functools import lru_cache

from num2words import CONVERTER_CLASSES, num2words

# Digit strings longer than this are identifiers (card numbers, serials), read digit by digit.
MAX_CARDINAL_DIGITS = 15


def resolve_language(language: str) -> str | None:
    """Map a language tag ("en", "pt-BR", "de_DE") to a num2words code, or None if unsupported."""
    parts = language.strip().replace("-", "_").split("_")
    base = parts[0].lower()
    candidates = [f"{base}_{parts[1].upper()}", base] if len(parts) > 1 else [base]
    return next((code for code in candidates if code in CONVERTER_CLASSES), None)


# num2words converters are shared singletons that store state while converting (the decimal
# precision, for one), so calls are serialised; results are cached, so this rarely waits.
_NUM2WORDS_LOCK = threading.Lock()


@lru_cache(maxsize=4096)
def _num2words(number: str, lang: str, to: str) -> str | None:
    """num2words for "42" or "3.50" (cached by that text), None instead of raising.

    English output is made US-style ("one hundred five", no commas).
    """
    try:
        value = Decimal(number) if "." in number else int(number)
        with _NUM2WORDS_LOCK:
            words = str(num2words(value, lang=lang, to=to))
    except Exception:  # num2words raises many types (Overflow, NotImplemented, Type...)
        return None
    if lang.startswith("en"):
        # "one hundred and five" -> "one hundred five"; drop commas that would read as pauses.
        words = words.replace(",", "").replace(" and ", " ")
    return words


def plain_digits(digits: str) -> str:
    """Strip thousands separators; returns "" if anything but decimal digits remains."""
    plain = digits.replace(",", "")
    return plain if plain.isdecimal() else ""


def spell_digits(digits: str, lang: str = "en") -> str | None:
    """Read a digit string one digit at a time: "007" -> "zero zero seven"."""
    words: list[str] = []
    for digit in digits:
        word = _num2words(digit, lang, "cardinal") if digit.isdecimal() else None
        if word is None:
            return None
        words.append(word)
    return " ".join(words) or None


def spell_cardinal(digits: str, lang: str = "en") -> str | None:
    """Spell an unsigned integer ("1,234" ok); leading zeros or very long runs go digit by digit."""
    plain = plain_digits(digits)
    if not plain:
        return None
    if len(plain) > MAX_CARDINAL_DIGITS or (len(plain) > 1 and plain[0] == "0"):
        return spell_digits(plain, lang)
    return _num2words(plain, lang, "cardinal")


def spell_decimal(digits: str, fraction: str | None, lang: str = "en") -> str | None:
    """Spell "3" + "14" as "three point one four" (fraction digits are read one by one in English).

    English keeps trailing zeros ("1.50" -> "one point five zero"); other languages use
    num2words' own decimal wording.
    """
    if not fraction:
        return spell_cardinal(digits, lang)
    whole = plain_digits(digits) or "0"
    whole_words = spell_cardinal(whole.lstrip("0") or "0", lang)
    if lang.startswith("en"):
        fraction_words = spell_digits(fraction, lang)
        if whole_words is None or fraction_words is None:
            return None
        return f"{whole_words} point {fraction_words}"
    if len(whole) + len(fraction) > MAX_CARDINAL_DIGITS or not fraction.isdecimal():
        return None
    return _num2words(f"{whole}.{fraction}", lang, "cardinal")


def spell_signed(
    sign: str | None, digits: str, fraction: str | None, lang: str = "en"
) -> str | None:
    """Spell a number with an optional leading "-", "+" or "±" sign (English sign words)."""
    words = spell_decimal(digits, fraction, lang)
    if words is None or not sign:
        return words
    prefix = {"-": "minus", "+": "plus", "±": "plus or minus"}.get(sign, "")
    return f"{prefix} {words}".strip()


def spell_ordinal(digits: str, lang: str = "en") -> str | None:
    """Spell an ordinal: "22" -> "twenty-second"."""
    plain = plain_digits(digits)
    if not plain or len(plain) > MAX_CARDINAL_DIGITS:
        return None
    return _num2words(plain, lang, "ordinal")


def spell_year(digits: str, lang: str = "en") -> str | None:
    """Spell a year as said: "1990" -> "nineteen ninety", "2005" -> "two thousand five"."""
    plain = plain_digits(digits)
    if not plain or len(plain) > 4:
        return None
    return _num2words(plain, lang, "year")
