"""Persian: Persian digits (۰-۹) and separators (٫ decimal, ٬ thousands), solar-calendar dates
("۱۴۰۳/۰۲/۱۳"), times ("۱۴:۳۰"), "٪" and ordinals ("۳م") as Persian speakers say them."""

from __future__ import annotations

from voxserve.text.numbers.locale import Currency, LanguageSpec, build_rules
from voxserve.text.numbers.spelling import spell_cardinal


def _cardinal(number: int) -> str:
    return spell_cardinal(str(number), "fa") or str(number)


def _clock(hour: str, minutes: str | None, _number: int) -> str:
    return f"{hour} و {minutes} دقیقه" if minutes else hour


def _money(words: str, currency: Currency, cents: str | None, _value: int) -> str:
    said = f"{words} {currency.singular}"
    return f"{said} و {cents} {currency.cent_singular}" if cents else said


_MONTHS = ("فروردین", "اردیبهشت", "خرداد", "تیر", "مرداد", "شهریور", "مهر", "آبان", "آذر",
           "دی", "بهمن", "اسفند")


#: Gregorian months, for dates whose year is Gregorian (after 1700).
_GREGORIAN = ("ژانویه", "فوریه", "مارس", "آوریل", "مه", "ژوئن", "ژوئیه", "اوت", "سپتامبر",
              "اکتبر", "نوامبر", "دسامبر")


def _date(day: int, month: int, year: int | None, _before: str) -> str:
    months = _GREGORIAN if year is not None and year > 1700 else _MONTHS
    said = f"{_cardinal(day)} {months[month - 1]}"
    return f"{said} {_cardinal(year)}" if year is not None else said


SPEC = LanguageSpec(
    code="fa",
    decimal="٫.",
    group="٬,",
    decimal_word="ممیز",
    minus_word="منفی",
    percent_word="درصد",
    months=_MONTHS,
    clock=_clock,
    money=_money,
    date=_date,
    currencies={
        "$": Currency("دلار", "دلار", "سنت", "سنت"),
        "€": Currency("یورو", "یورو", "سنت", "سنت"),
        "﷼": Currency("ریال", "ریال", "", ""),
    },
    units={
        "km": ("کیلومتر", "کیلومتر"), "m": ("متر", "متر"), "cm": ("سانتیمتر", "سانتیمتر"),
        "kg": ("کیلوگرم", "کیلوگرم"), "g": ("گرم", "گرم"), "°C": ("درجه سانتیگراد",
                                                                 "درجه سانتیگراد"),
    },
    abbreviations={"ه.ش.": "هجری شمسی", "ه.ق.": "هجری قمری", "ق.م.": "قبل از میلاد"},
    date_order="ymd",
    ordinal_suffixes={r"(?:ام|م)": "m"},
    symbols={"&": "و"},
)
RULES = build_rules(SPEC)
