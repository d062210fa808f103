"""Numbers in words.

- :mod:`.spelling`: ``num2words`` wrappers that spell digit strings in any language it knows
  (cardinals, ordinals, decimals, years, digit by digit); what non-English text gets.
- :mod:`.en`: the English rule tables (dates, times, money, units, ordinals ... then every
  remaining number), built from the English words in :mod:`.en.lexicon`.

Rules for another language would sit beside :mod:`.en` as a package of their own, on the same
spelling functions.
"""
