"""Spelling numbers as words with ``num2words``.

Every helper takes the digits as a *string* (so arbitrarily long input never hits Python's
int-conversion limit) and returns ``None`` when ``num2words`` cannot spell it, so callers can
leave the original text in place instead of failing.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from num2words import CONVERTER_CLASSES, num2words

from voxserve.text.abbreviations import Rule, alternation, ends_sentence

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


def _plain_digits(digits: str) -> str:
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
    plain = _plain_digits(digits)
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
    whole = _plain_digits(digits) or "0"
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
    plain = _plain_digits(digits)
    if not plain or len(plain) > MAX_CARDINAL_DIGITS:
        return None
    return _num2words(plain, lang, "ordinal")


def spell_year(digits: str, lang: str = "en") -> str | None:
    """Spell a year as said: "1990" -> "nineteen ninety", "2005" -> "two thousand five"."""
    plain = _plain_digits(digits)
    if not plain or len(plain) > 4:
        return None
    return _num2words(plain, lang, "year")


def pluralize_number_words(words: str) -> str:
    """Make the last number word plural: "nineteen ninety" -> "nineteen nineties"."""
    if words.endswith("y"):
        return words[:-1] + "ies"
    if words.endswith("x"):
        return words + "es"
    return words + "s"


# --- English rules: each turns one kind of numeric expression into words -----------------------

_INT = r"\d{1,3}(?:,\d{3})+(?!\d)|\d+"
_AMPM = r"(?P<ap>[AaPp])\.?\s?[Mm](?P<dot>\.)?(?!\w)"
_NUMBER_END = r"(?![\w:]|[.,]\d)"

MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_MONTH_BY_NAME = (
    {name.lower(): name for name in MONTHS}
    | {name[:3].lower(): name for name in MONTHS}
    | {"sept": "September"}
)
_MONTH = (
    r"(?P<month>(?:" + "|".join(MONTHS) + r")\b"
    r"|(?:Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)(?:\.|\b))"
)
_DAY = rf"(?P<day>3[01]|[12]\d|0?[1-9])(?:st|nd|rd|th)?{_NUMBER_END}"
_YEAR = rf"(?P<year>1\d{{3}}|20\d{{2}}){_NUMBER_END}"
_OPTIONAL_YEAR = rf"(?:,?\s{_YEAR})?"


@dataclass(frozen=True)
class Currency:
    """How amounts of one currency are said; ``minors`` is None when cents are not spoken."""

    major: str
    majors: str
    minor: str | None = None
    minors: str | None = None


_DOLLAR = Currency("dollar", "dollars", "cent", "cents")
_EURO = Currency("euro", "euros", "cent", "cents")
_POUND = Currency("pound", "pounds", "penny", "pence")
_YEN = Currency("yen", "yen")
_RUPEE = Currency("rupee", "rupees")
CURRENCY_SYMBOLS: dict[str, Currency] = {
    "$": _DOLLAR,
    "€": _EURO,
    "£": _POUND,
    "¥": _YEN,
    "₹": _RUPEE,
}
CURRENCY_CODES: dict[str, Currency] = {
    "USD": Currency("US dollar", "US dollars", "cent", "cents"),
    "EUR": _EURO,
    "GBP": _POUND,
    "JPY": _YEN,
    "INR": _RUPEE,
    "CAD": Currency("Canadian dollar", "Canadian dollars", "cent", "cents"),
    "AUD": Currency("Australian dollar", "Australian dollars", "cent", "cents"),
    "CHF": Currency("Swiss franc", "Swiss francs"),
    "CNY": Currency("yuan", "yuan"),
}
SCALES: dict[str, str] = {
    "thousand": "thousand",
    "k": "thousand",
    "K": "thousand",
    "million": "million",
    "m": "million",
    "M": "million",
    "mn": "million",
    "billion": "billion",
    "b": "billion",
    "B": "billion",
    "bn": "billion",
    "trillion": "trillion",
    "T": "trillion",
    "tn": "trillion",
}

# Units read after a number: symbol -> (singular, plural).
UNITS: dict[str, tuple[str, str]] = {
    "km": ("kilometer", "kilometers"),
    "m": ("meter", "meters"),
    "cm": ("centimeter", "centimeters"),
    "mm": ("millimeter", "millimeters"),
    "μm": ("micrometer", "micrometers"),
    "nm": ("nanometer", "nanometers"),
    "mi": ("mile", "miles"),
    "ft": ("foot", "feet"),
    "yd": ("yard", "yards"),
    "kg": ("kilogram", "kilograms"),
    "g": ("gram", "grams"),
    "mg": ("milligram", "milligrams"),
    "lb": ("pound", "pounds"),
    "lbs": ("pound", "pounds"),
    "oz": ("ounce", "ounces"),
    "ml": ("milliliter", "milliliters"),
    "mL": ("milliliter", "milliliters"),
    "L": ("liter", "liters"),
    "mph": ("mile per hour", "miles per hour"),
    "km/h": ("kilometer per hour", "kilometers per hour"),
    "kph": ("kilometer per hour", "kilometers per hour"),
    "m/s": ("meter per second", "meters per second"),
    "h": ("hour", "hours"),
    "hr": ("hour", "hours"),
    "hrs": ("hour", "hours"),
    "min": ("minute", "minutes"),
    "mins": ("minute", "minutes"),
    "s": ("second", "seconds"),
    "sec": ("second", "seconds"),
    "ms": ("millisecond", "milliseconds"),
    "KB": ("kilobyte", "kilobytes"),
    "kB": ("kilobyte", "kilobytes"),
    "MB": ("megabyte", "megabytes"),
    "GB": ("gigabyte", "gigabytes"),
    "TB": ("terabyte", "terabytes"),
    "Mbps": ("megabit per second", "megabits per second"),
    "Gbps": ("gigabit per second", "gigabits per second"),
    "Hz": ("hertz", "hertz"),
    "kHz": ("kilohertz", "kilohertz"),
    "MHz": ("megahertz", "megahertz"),
    "GHz": ("gigahertz", "gigahertz"),
    "W": ("watt", "watts"),
    "kW": ("kilowatt", "kilowatts"),
    "kWh": ("kilowatt hour", "kilowatt hours"),
    "V": ("volt", "volts"),
    "mAh": ("milliamp hour", "milliamp hours"),
    "°C": ("degree Celsius", "degrees Celsius"),
    "°F": ("degree Fahrenheit", "degrees Fahrenheit"),
    "°": ("degree", "degrees"),
}
_UNIT_POWERS = {"2": "square ", "3": "cubic "}
_POWER_WORDS = {"2": "squared", "3": "cubed"}
_FRACTION_NAMES = {2: ("half", "halves"), 4: ("quarter", "quarters")}
_ERAS = {"AD": "A.D", "A.D.": "A.D", "BC": "BC", "B.C.": "BC", "BCE": "BCE", "CE": "CE"}
_AFTER_THE = re.compile(r"(?<!\w)[Tt]he\s$")
# Words after which a four-digit number is a year ("in 1990", "the 1990 election", "Q3 2024").
_YEAR_CONTEXT = re.compile(
    r"(?<!\w)(?:in|since|by|from|until|till|through|during|before|after|circa|around|year|of"
    r"|early|late|mid|the|summer|winter|spring|autumn|fall|Q[1-4])[\s-]$",
    re.IGNORECASE,
)
_YEAR_CONTEXT_CHARS = 20
_YEAR_NUMBER = rf"(?:1\d{{3}}|20\d{{2}}){_NUMBER_END}"
# "555-1234" is only a phone number next to words like these (else it reads as a range).
_PHONE_CONTEXT = re.compile(r"(?i)\b(?:phone|call|dial|number|tel|fax|text|reach|contact|ext)\b")
_PHONE_CONTEXT_CHARS = 40
# Words after which "/" means "per" (unit names and currencies as spelled by these rules).
_MEASURE_WORDS = frozenset(
    name.split()[-1]
    for names in (
        *UNITS.values(),
        *((c.major, c.majors) for c in (*CURRENCY_SYMBOLS.values(), *CURRENCY_CODES.values())),
    )
    for name in names
)
_LAST_WORD = re.compile(r"[A-Za-z]+$")


def _pad(match: re.Match[str], words: str) -> str:
    """Put spaces around ``words`` where the match touched a letter or digit ("COVID19")."""
    text, start, end = match.string, match.start(), match.end()
    left = " " if start > 0 and text[start - 1].isalnum() else ""
    right = " " if end < len(text) and text[end].isalnum() else ""
    return f"{left}{words}{right}"


def _is_one(digits: str) -> bool:
    """True for the integer one, so units and currencies can be singular."""
    return _plain_digits(digits).lstrip("0") == "1"


def _month(match: re.Match[str]) -> str:
    """Full month name from a matched name or abbreviation ("Jan." -> "January")."""
    return _MONTH_BY_NAME[match["month"].rstrip(".").lower()]


def _year_suffix(year: str | None) -> str | None:
    """Return ", <year in words>" for a matched year, "" for none, None if unspellable."""
    if not year:
        return ""
    words = spell_year(year)
    return None if words is None else f", {words}"


def _month_day(match: re.Match[str]) -> str:
    """Read month-first dates: "Jan. 5, 2024" -> "January fifth, twenty twenty-four"."""
    day, year = spell_ordinal(match["day"]), _year_suffix(match["year"])
    if day is None or year is None:
        return match.group(0)
    return f"{_month(match)} {day}{year}"


def _day_month(match: re.Match[str]) -> str:
    """Read day-first dates: "5 January 2024" -> "the fifth of January, twenty twenty-four"."""
    day, year = spell_ordinal(match["day"]), _year_suffix(match["year"])
    if day is None or year is None:
        return match.group(0)
    after_the = _AFTER_THE.search(match.string[max(0, match.start() - 5) : match.start()])
    return f"{'' if after_the else 'the '}{day} of {_month(match)}{year}"


def _month_year(match: re.Match[str]) -> str:
    """Read a month and year: "January 2024" -> "January twenty twenty-four"."""
    year = spell_year(match["year"])
    return match.group(0) if year is None else f"{_month(match)} {year}"


def _say_date(year: str, month: int, day: int) -> str | None:
    """Spoken "Month ordinal, year" from numeric parts, or None for an impossible date."""
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    day_words, year_words = spell_ordinal(str(day)), spell_year(year)
    if day_words is None or year_words is None:
        return None
    return f"{MONTHS[month - 1]} {day_words}, {year_words}"


def _iso_date(match: re.Match[str]) -> str:
    """Read ISO dates: "2024-01-15" -> "January fifteenth, twenty twenty-four"."""
    spoken = _say_date(match["year"], int(match["month"]), int(match["day"]))
    return match.group(0) if spoken is None else spoken


def _slash_date(match: re.Match[str]) -> str:
    """Read "1/15/2024" (US order; day-first when the first part cannot be a month)."""
    first, second, year = int(match["a"]), int(match["b"]), match["year"]
    if len(year) == 2:
        year = ("20" if int(year) < 50 else "19") + year
    month, day = (first, second) if first <= 12 else (second, first)
    spoken = _say_date(year, month, day)
    return match.group(0) if spoken is None else spoken


def _say_clock(hour: int, minute: int, has_meridiem: bool) -> str | None:
    """Say a clock time: "3:05" -> "three oh five", "15:00" -> "fifteen hundred"."""
    hour_words, minute_words = spell_cardinal(str(hour)), spell_cardinal(str(minute))
    if hour_words is None or minute_words is None:
        return None
    if minute == 0:
        if has_meridiem:
            return hour_words
        return f"{hour_words} hundred" if hour == 0 or hour > 12 else f"{hour_words} o'clock"
    return f"{hour_words} oh {minute_words}" if minute < 10 else f"{hour_words} {minute_words}"


def _meridiem(match: re.Match[str]) -> str:
    """Return " AM"/" PM" (keeping a sentence-ending period of "a.m."), or "" if absent."""
    letter = match.groupdict().get("ap")
    if not letter:
        return ""
    spoken = " AM" if letter in "Aa" else " PM"
    return spoken + "." if match["dot"] and ends_sentence(match) else spoken


def _time(match: re.Match[str]) -> str:
    """Read times: "3:30 pm" -> "three thirty PM", "15:45" -> "fifteen forty-five"."""
    groups = match.groupdict()
    meridiem = _meridiem(match)
    spoken = _say_clock(int(match["hour"]), int(groups.get("minute") or 0), bool(meridiem))
    if spoken is None:
        return match.group(0)
    second = groups.get("second")
    if second and int(second):
        unit = "second" if int(second) == 1 else "seconds"
        spoken += f" and {spell_cardinal(second.lstrip('0')) or second} {unit}"
    return spoken + meridiem


def _phone(match: re.Match[str]) -> str:
    """Read phone numbers digit by digit, with a pause between the groups."""
    groups = [spell_digits(group) for group in re.findall(r"\d+", match.group(0))]
    if any(group is None for group in groups):
        return match.group(0)
    return ", ".join(group for group in groups if group)


def _local_phone(match: re.Match[str]) -> str:
    """Read "555-0199" as a phone number when it cannot be a range or a phone word precedes it."""
    before = match.string[max(0, match.start() - _PHONE_CONTEXT_CHARS) : match.start()]
    if match["line"].startswith("0") or _PHONE_CONTEXT.search(before):
        return _phone(match)
    return match.group(0)


def _range(match: re.Match[str]) -> str:
    """Read ranges: "10-20" -> "10 to 20" (spelled later); year ranges are spelled here."""
    first, second = match["a"], match["b"]
    if re.fullmatch(r"1\d{3}|20\d{2}", first) and re.fullmatch(r"\d{2}|\d{4}", second):
        first_words = spell_year(first)
        second_words = spell_year(second) if len(second) == 4 else spell_cardinal(second)
        if first_words and second_words:
            return f"{first_words} to {second_words}"
    return f"{first} to {second}"


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
    if cents == "00" or _plain_digits(digits).strip("0"):
        parts.append(f"{major} {currency.major if _is_one(digits) else currency.majors}")
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
    return _pad(match, f"minus {spoken}" if groups.get("sign") == "-" else spoken)


def _percent(match: re.Match[str]) -> str:
    """Read percentages: "50%" -> "fifty percent"."""
    number = spell_signed(match["sign"], match["int"], match["frac"])
    return match.group(0) if number is None else _pad(match, f"{number} percent")


def _unit(match: re.Match[str]) -> str:
    """Name units: "5 km" -> "5 kilometers" (number spelled later), "1 kg" -> singular."""
    singular, plural = UNITS[match["unit"]]
    power = _UNIT_POWERS.get(match["power"] or "", "")
    name = singular if _is_one(match["int"]) and not match["frac"] else plural
    return _pad(match, f"{match['number']} {power}{name}")


def _ordinal(match: re.Match[str]) -> str:
    """Read ordinals: "22nd" -> "twenty-second"."""
    words = spell_ordinal(match["int"])
    return match.group(0) if words is None else _pad(match, words)


def _decade(match: re.Match[str]) -> str:
    """Read decades: "1990s" -> "nineteen nineties", "'80s" -> "eighties"."""
    words = spell_year(match["year"]) if match["year"] else spell_cardinal(match["short"])
    return match.group(0) if words is None else _pad(match, pluralize_number_words(words))


def _year_in_context(match: re.Match[str]) -> str:
    """Read years after a context word ("in 1990"); a bare 1990 stays a cardinal."""
    before = match.string[max(0, match.start() - _YEAR_CONTEXT_CHARS) : match.start()]
    words = spell_year(match["year"]) if _YEAR_CONTEXT.search(before) else None
    return match.group(0) if words is None else words


def _year_pair(match: re.Match[str]) -> str:
    """Read "from 1990 to 1995" / "between 1990 and 1995" with both numbers as years."""
    first, second = spell_year(match["first"]), spell_year(match["second"])
    if first is None or second is None:
        return match.group(0)
    return f"{match['head']}{first} {match['conj']} {second}"


def _per(match: re.Match[str]) -> str:
    """Read "/" after a unit or currency as "per": "$3/kg" -> "three dollars per kilogram"."""
    before = _LAST_WORD.search(match.string, max(0, match.start() - 20), match.start())
    if before is None or before.group(0) not in _MEASURE_WORDS:
        return match.group(0)
    unit = match["unit"]
    return f" per {UNITS[unit][0] if unit in UNITS else unit}"


def _era_year(match: re.Match[str]) -> str:
    """Read era years: "500 BC" -> "five hundred BC", "AD 476" -> "A.D four hundred ..."."""
    words = spell_year(match["year"])
    if words is None:
        return match.group(0)
    era = _ERAS[match["era"]]
    if match.start("era") < match.start("year"):
        return f"{era} {words}"
    period = "." if match["era"].endswith(".") and ends_sentence(match) else ""
    return f"{words} {era}{period}"


def _fraction(match: re.Match[str]) -> str:
    """Read fractions: "3/4" -> "three quarters", "1 1/2" -> "one and a half"; "24/7" -> "24 7"."""
    whole, numerator, denominator = match["whole"], int(match["num"]), int(match["den"])
    if not (2 <= denominator <= 10 and 0 < numerator < denominator):
        spoken = f"{match['num']} {match['den']}"
        return f"{whole} {spoken}" if whole else spoken
    name = _fraction_name(denominator, plural=numerator != 1)
    count = "a" if whole and numerator == 1 else spell_cardinal(match["num"])
    spoken = f"{count} {name}"
    return f"{whole} and {spoken}" if whole else spoken


def _feet_inches(match: re.Match[str]) -> str:
    """Height "5'10\"" -> "5 feet 10 inches" (numbers spelled later)."""
    feet, inches = match["feet"], match["inches"]
    feet_unit = "foot" if _is_one(feet) else "feet"
    inch_unit = "inch" if _is_one(inches) else "inches"
    return f"{feet} {feet_unit} {inches} {inch_unit}"


def _fraction_name(denominator: int, plural: bool) -> str:
    """Name a denominator: half/halves, quarter/quarters, else the ordinal (third/thirds)."""
    ordinal = spell_ordinal(str(denominator)) or str(denominator)
    singular, plural_name = _FRACTION_NAMES.get(denominator, (ordinal, ordinal + "s"))
    return plural_name if plural else singular


def _dotted(match: re.Match[str]) -> str:
    """Versions "1.2.3" -> "one point two point three"; IPs (4+ parts) use "dot"."""
    parts = match.group(0).split(".")
    words = [spell_cardinal(part) for part in parts]
    if any(word is None for word in words):
        return match.group(0)
    separator = " dot " if len(parts) >= 4 else " point "
    return _pad(match, separator.join(word for word in words if word))


def _power(match: re.Match[str]) -> str:
    """Read powers: "x^2" -> "x squared", "10^6" -> "10 to the power of 6"."""
    exponent = match["exp"]
    return " " + _POWER_WORDS.get(exponent, f"to the power of {exponent}") + " "


def _number(match: re.Match[str]) -> str:
    """Any remaining number: "-1,234.5" -> "minus one thousand ... thirty-four point five"."""
    words = spell_signed(match["sign"], match["int"] or "0", match["frac"])
    return match.group(0) if words is None else _pad(match, words)


_UNIT_ALTERNATION = alternation(UNITS)
_CODES = alternation(CURRENCY_CODES)
_SYMBOLS = "[" + "".join(CURRENCY_SYMBOLS) + "]"
_SCALE = r"(?:\s?(?P<scale>" + alternation(SCALES) + r")(?!\w))?"
_AMOUNT = rf"(?P<int>{_INT})(?:\.(?P<frac>\d+))?{_SCALE}"
_NUMBER = rf"(?P<int>{_INT})(?:\.(?P<frac>\d+))?"

_CLOCK = r"(?P<hour>[01]?\d|2[0-3]):(?P<minute>[0-5]\d)"

# Triggers: substrings one of which must be present for the rule to match (see Rule).
DIGITS = tuple("0123456789")
_MONTH_TRIGGERS = tuple(name[:3] for name in MONTHS)
_MONEY_TRIGGERS = (*CURRENCY_SYMBOLS, *CURRENCY_CODES)

# Expressions with context (dates, times, money, units...), applied in this order.
EXPRESSION_RULES: tuple[Rule, ...] = (
    Rule(
        re.compile(
            r"(?<![\w-])(?P<year>\d{4})-(?P<month>0[1-9]|1[0-2])-(?P<day>0[1-9]|[12]\d|3[01])(?![\d-])"
        ),
        _iso_date,
        ("-",),
    ),
    Rule(
        re.compile(
            r"(?<![\w/.,])(?P<a>\d{1,2})/(?P<b>\d{1,2})/(?P<year>\d{4}|\d{2})(?![\w/]|[.,]\d)"
        ),
        _slash_date,
        ("/",),
    ),
    Rule(re.compile(rf"\b{_MONTH}\s{_DAY}{_OPTIONAL_YEAR}"), _month_day, _MONTH_TRIGGERS),
    Rule(
        re.compile(rf"(?<![\w.,]){_DAY}\s(?:of\s)?{_MONTH}{_OPTIONAL_YEAR}"),
        _day_month,
        _MONTH_TRIGGERS,
    ),
    Rule(re.compile(rf"\b{_MONTH}\s{_YEAR}"), _month_year, _MONTH_TRIGGERS),
    Rule(
        re.compile(r"(?<![\w+])(?:\+?1[-.\s])?(?:\(\d{3}\)\s?|\d{3}[-.])\d{3}[-.]\d{4}(?![\w-])"),
        _phone,
        ("-", "."),
    ),
    Rule(
        re.compile(r"(?<![\w+.-])(?P<exchange>[2-9]\d{2})-(?P<line>\d{4})(?![\w-])"),
        _local_phone,
        ("-",),
    ),
    Rule(
        re.compile(
            rf"(?<![\w:])(?P<first>{_CLOCK}(?:\s?[AaPp]\.?[Mm]\.?)?)\s?-\s?(?=[01]?\d:|2[0-3]:)"
        ),
        lambda m: f"{m['first']} to ",
        (":",),
    ),
    Rule(
        re.compile(rf"(?<![\w:.]){_CLOCK}(?::(?P<second>[0-5]\d))?(?:\s?{_AMPM})?(?![\w:])"),
        _time,
        (":",),
    ),
    Rule(re.compile(rf"(?<![\w:.])(?P<hour>1[0-2]|0?[1-9])\s?{_AMPM}"), _time, ("m", "M")),
    Rule(
        re.compile(r"(?<![\w.,:/-])(?P<a>\d+(?:\.\d+)?)-(?P<b>\d+(?:\.\d+)?)(?![\w:/-]|[.,]\d)"),
        _range,
        ("-",),
    ),
    Rule(
        re.compile(rf"(?<![\w$€£¥₹])(?P<sign>-)?(?P<sym>{_SYMBOLS})\s?{_AMOUNT}"),
        _money,
        tuple(CURRENCY_SYMBOLS),
    ),
    Rule(
        re.compile(rf"\b(?P<code>{_CODES})\s?(?P<sign>-)?{_AMOUNT}"),
        _money,
        tuple(CURRENCY_CODES),
    ),
    Rule(
        re.compile(
            rf"(?<![\w.,])(?P<sign>-)?{_AMOUNT}\s?(?:(?P<sym>{_SYMBOLS})|(?P<code>{_CODES})\b)"
        ),
        _money,
        _MONEY_TRIGGERS,
    ),
    Rule(re.compile(rf"(?<![\w.,])(?P<sign>[-+±])?{_NUMBER}\s?%"), _percent, ("%",)),
    Rule(
        re.compile(r"(?<![\w'])(?:(?P<year>1\d\d0|20\d0)|'?(?P<short>[1-9]0))'?s(?!\w)"),
        _decade,
        ("0s", "0's"),
    ),
    Rule(
        re.compile(r"(?<![\w.,'])(?P<feet>\d{1,2})'\s?(?P<inches>\d{1,2})(?:\"|'')"),
        _feet_inches,
        ("'",),
    ),
    Rule(
        re.compile(
            rf"(?<![\w.,])(?P<number>[-+±]?{_NUMBER})\s?(?P<unit>{_UNIT_ALTERNATION})"
            r"(?:\^(?P<power>[23]))?(?![\w°])"
        ),
        _unit,
        DIGITS,
    ),
    Rule(
        re.compile(rf"(?<=[a-z])/(?P<unit>{_UNIT_ALTERNATION}|[A-Za-z]+)(?![\w/°])"),
        _per,
        ("/",),
    ),
    Rule(
        re.compile(rf"(?<![\w.,])(?P<int>{_INT})(?:st|nd|rd|th|ST|ND|RD|TH)(?!\w)"),
        _ordinal,
        ("st", "nd", "rd", "th", "ST", "ND", "RD", "TH"),
    ),
    Rule(
        re.compile(r"(?<![\w.,])(?P<year>\d{1,4})\s?(?P<era>A\.D\.|B\.C\.|AD|BCE|BC|CE)(?!\w)"),
        _era_year,
        ("AD", "BC", "CE", "A.D", "B.C"),
    ),
    Rule(
        re.compile(rf"\b(?P<era>AD|A\.D\.)\s?(?P<year>\d{{1,4}}){_NUMBER_END}"),
        _era_year,
        ("AD", "A.D"),
    ),
    Rule(
        re.compile(
            r"(?P<head>\b(?i:from|between)\s)"
            rf"(?P<first>{_YEAR_NUMBER})\s(?P<conj>to|and|until|through)\s(?P<second>{_YEAR_NUMBER})"
        ),
        _year_pair,
        DIGITS,
    ),
    Rule(
        re.compile(rf"(?<![\w.,])(?P<year>1\d{{3}}|20\d{{2}}){_NUMBER_END}(?!\s?%)"),
        _year_in_context,
        DIGITS,
    ),
    Rule(
        re.compile(
            r"(?<![\w/.,])(?:(?P<whole>\d{1,6})\s)?(?P<num>\d{1,6})/(?P<den>\d{1,6})(?![\w/]|[.,]\d)"
        ),
        _fraction,
        ("/",),
    ),
    Rule(re.compile(r"(?<![\d.])\d+(?:\.\d+){2,}(?!\d|\.\d)"), _dotted, (".",)),
)

# Plain numbers, applied after every rule that needs to see digits in context.
NUMBER_RULES: tuple[Rule, ...] = (
    Rule(re.compile(r"\^(?P<exp>-?\d{1,3})"), _power, ("^",)),
    Rule(
        re.compile(r"(?<![\w.])\.(?P<frac>\d+)(?!\d)"),
        lambda m: _pad(m, f"point {spell_digits(m['frac']) or m['frac']}"),
        (".",),
    ),
    Rule(re.compile(rf"(?<![\d.])(?:(?<!\w)(?P<sign>[-+±]))?{_NUMBER}(?!\d)"), _number, DIGITS),
    Rule(re.compile(r"\d+"), lambda m: _pad(m, spell_cardinal(m.group(0)) or m.group(0)), DIGITS),
)
