"""English clock times: "3:30 pm" -> "three thirty PM", "15:00" -> "fifteen hundred"."""

from __future__ import annotations

import re

from voxserve.text.abbreviations import Rule, ends_sentence
from voxserve.text.numbers.spelling import spell_cardinal

_AMPM = r"(?P<ap>[AaPp])\.?\s?[Mm](?P<dot>\.)?(?!\w)"
_CLOCK = r"(?P<hour>[01]?\d|2[0-3]):(?P<minute>[0-5]\d)"


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


#: "15:45", "3:30:10 pm"
CLOCK_TIME = Rule(
    re.compile(rf"(?<![\w:.]){_CLOCK}(?::(?P<second>[0-5]\d))?(?:\s?{_AMPM})?(?![\w:])"),
    _time,
    (":",),
)
#: "3pm", "11 a.m."
HOUR_TIME = Rule(re.compile(rf"(?<![\w:.])(?P<hour>1[0-2]|0?[1-9])\s?{_AMPM}"), _time, ("m", "M"))


def _time_range(match: re.Match[str]) -> str:
    """The dash between two times is read "to" ("9:00-17:00"); the times are read next."""
    return f"{match['first']} to "


TIME_RANGE = Rule(
    re.compile(
        rf"(?<![\w:])(?P<first>{_CLOCK}(?:\s?[AaPp]\.?[Mm]\.?)?)\s?-\s?(?=[01]?\d:|2[0-3]:)"
    ),
    _time_range,
    (":",),
)
