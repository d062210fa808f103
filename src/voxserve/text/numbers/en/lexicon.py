"""English words for what the number rules read: months, currencies, scales, units, eras.

Pure data, no rules: :mod:`voxserve.text.numbers.en` builds its regexes and replacements
from these tables, so adding a unit or a currency here is all it takes to have it read.
"""

from __future__ import annotations

from dataclasses import dataclass

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
#: Full month name by lower-case name or abbreviation ("jan", "sept", "march").
MONTH_BY_NAME = (
    {name.lower(): name for name in MONTHS}
    | {name[:3].lower(): name for name in MONTHS}
    | {"sept": "September"}
)


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
#: Scale words and abbreviations after an amount ("$5k", "€2bn") -> the word said.
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
#: "km^2" -> "square kilometers".
UNIT_POWERS = {"2": "square ", "3": "cubic "}
#: "x^2" -> "x squared"; other exponents are read "to the power of".
POWER_WORDS = {"2": "squared", "3": "cubed"}
#: Denominators not named by their ordinal: (singular, plural).
FRACTION_NAMES = {2: ("half", "halves"), 4: ("quarter", "quarters")}
#: Era abbreviations as written -> as said.
ERAS = {"AD": "A.D", "A.D.": "A.D", "BC": "BC", "B.C.": "BC", "BCE": "BCE", "CE": "CE"}
#: Words after which "/" means "per" (unit names and currencies as the rules spell them).
MEASURE_WORDS = frozenset(
    name.split()[-1]
    for names in (
        *UNITS.values(),
        *((c.major, c.majors) for c in (*CURRENCY_SYMBOLS.values(), *CURRENCY_CODES.values())),
    )
    for name in names
)
