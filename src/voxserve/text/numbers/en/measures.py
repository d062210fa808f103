"""English measures: units ("5 km"), "per" ("$3/kg"), heights, fractions and powers.

Numbers are left as digits here ("5 kilometers"): the plain-number rules spell them later.
"""

from __future__ import annotations

import re

from voxserve.text.abbreviations import Rule, alternation
from voxserve.text.numbers.en.common import DIGITS, NUMBER, is_one, pad
from voxserve.text.numbers.en.lexicon import (
    FRACTION_NAMES,
    MEASURE_WORDS,
    POWER_WORDS,
    UNIT_POWERS,
    UNITS,
)
from voxserve.text.numbers.spelling import spell_cardinal, spell_ordinal

_UNIT_ALTERNATION = alternation(UNITS)
_LAST_WORD = re.compile(r"[A-Za-z]+$")


def _unit(match: re.Match[str]) -> str:
    """Name units: "5 km" -> "5 kilometers" (number spelled later), "1 kg" -> singular."""
    singular, plural = UNITS[match["unit"]]
    power = UNIT_POWERS.get(match["power"] or "", "")
    name = singular if is_one(match["int"]) and not match["frac"] else plural
    return pad(match, f"{match['number']} {power}{name}")


UNIT = Rule(
    re.compile(
        rf"(?<![\w.,])(?P<number>[-+±]?{NUMBER})\s?(?P<unit>{_UNIT_ALTERNATION})"
        r"(?:\^(?P<power>[23]))?(?![\w°])"
    ),
    _unit,
    DIGITS,
)


def _per(match: re.Match[str]) -> str:
    """Read "/" after a unit or currency as "per": "$3/kg" -> "three dollars per kilogram"."""
    before = _LAST_WORD.search(match.string, max(0, match.start() - 20), match.start())
    if before is None or before.group(0) not in MEASURE_WORDS:
        return match.group(0)
    unit = match["unit"]
    return f" per {UNITS[unit][0] if unit in UNITS else unit}"


PER = Rule(
    re.compile(rf"(?<=[a-z])/(?P<unit>{_UNIT_ALTERNATION}|[A-Za-z]+)(?![\w/°])"), _per, ("/",)
)


def _feet_inches(match: re.Match[str]) -> str:
    """Height "5'10\"" -> "5 feet 10 inches" (numbers spelled later)."""
    feet, inches = match["feet"], match["inches"]
    feet_unit = "foot" if is_one(feet) else "feet"
    inch_unit = "inch" if is_one(inches) else "inches"
    return f"{feet} {feet_unit} {inches} {inch_unit}"


FEET_INCHES = Rule(
    re.compile(r"(?<![\w.,'])(?P<feet>\d{1,2})'\s?(?P<inches>\d{1,2})(?:\"|'')"),
    _feet_inches,
    ("'",),
)


def _fraction_name(denominator: int, plural: bool) -> str:
    """Name a denominator: half/halves, quarter/quarters, else the ordinal (third/thirds)."""
    ordinal = spell_ordinal(str(denominator)) or str(denominator)
    singular, plural_name = FRACTION_NAMES.get(denominator, (ordinal, ordinal + "s"))
    return plural_name if plural else singular


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


FRACTION = Rule(
    re.compile(
        r"(?<![\w/.,])(?:(?P<whole>\d{1,6})\s)?(?P<num>\d{1,6})/(?P<den>\d{1,6})(?![\w/]|[.,]\d)"
    ),
    _fraction,
    ("/",),
)


def _power(match: re.Match[str]) -> str:
    """Read powers: "x^2" -> "x squared", "10^6" -> "10 to the power of 6"."""
    exponent = match["exp"]
    return " " + POWER_WORDS.get(exponent, f"to the power of {exponent}") + " "


POWER = Rule(re.compile(r"\^(?P<exp>-?\d{1,3})"), _power, ("^",))
