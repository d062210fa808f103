"""English number rules: dates, times, money, units ... and every other number, in words.

One module per kind of expression, each defining its :class:`~voxserve.text.abbreviations.Rule`
objects (a regex, right after the function that reads its matches); this module puts them in
the order they run, which matters (a date must be read before its parts look like a range,
money before its amount looks like a plain number):

- :mod:`.lexicon`: the words (months, currencies, scales, units, eras), data only
- :mod:`.dates`: dates, years, decades, eras
- :mod:`.clock`: clock times
- :mod:`.money`: amounts of money, percentages
- :mod:`.measures`: units, "per", heights, fractions, powers
- :mod:`.numerals`: phone numbers, ranges, ordinals, versions, and plain numbers
- :mod:`.common`: regex fragments and helpers the rule modules share
"""

from __future__ import annotations

from voxserve.text.abbreviations import Rule
from voxserve.text.numbers.en import clock, dates, measures, money, numerals

# Expressions with context (dates, times, money, units...), applied in this order.
EXPRESSION_RULES: tuple[Rule, ...] = (
    dates.ISO_DATE,
    dates.SLASH_DATE,
    dates.MONTH_DAY,
    dates.DAY_MONTH,
    dates.MONTH_YEAR,
    numerals.PHONE,
    numerals.LOCAL_PHONE,
    clock.TIME_RANGE,
    clock.CLOCK_TIME,
    clock.HOUR_TIME,
    numerals.RANGE,
    money.SYMBOL_FIRST,
    money.CODE_FIRST,
    money.AMOUNT_FIRST,
    money.PERCENT,
    dates.DECADE,
    measures.FEET_INCHES,
    measures.UNIT,
    measures.PER,
    numerals.ORDINAL,
    dates.YEAR_ERA,
    dates.ERA_YEAR,
    dates.YEAR_PAIR,
    dates.YEAR_IN_CONTEXT,
    measures.FRACTION,
    numerals.DOTTED,
)

# Plain numbers, applied after every rule that needs to see digits in context.
NUMBER_RULES: tuple[Rule, ...] = (
    measures.POWER,
    numerals.BARE_FRACTION,
    numerals.SIGNED_NUMBER,
    numerals.DIGIT_RUN,
)

__all__ = ["EXPRESSION_RULES", "NUMBER_RULES"]
