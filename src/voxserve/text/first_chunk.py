"""Where a long first sentence is cut in two, so its first part is heard sooner.

Time to first audio is the first segment's synthesis time. When the first sentence of an
interactive request has at least ``min_words`` words, :func:`first_clause_end` finds a clause
boundary in it: after a clause mark (comma, semicolon, colon, dash) or, failing that, before a
coordinating or subordinating conjunction of the sentence's language. The first part must keep
at least :data:`MIN_PART_WORDS` words, leave as many for the rest, and hold at most
:data:`MAX_FIRST_SHARE` of the sentence's characters; the earliest such boundary wins (the
shortest first chunk). Nothing inside ``[[ phonemes ]]`` or an engine tag is ever cut.

The seam must not be heard: the first part is followed by the pause the voice makes there
when it reads the sentence whole (:data:`CLAUSE_PAUSE_MS` after a clause mark,
:data:`WORD_GAP_MS` before a conjunction; measured on the bundled voice), not the pause
between sentences.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Piper's own silence at a comma inside a sentence (joe voice, noise off: 299 and 355 ms).
CLAUSE_PAUSE_MS = 300
#: Piper's own gap between two words (joe voice: 50-75 ms).
WORD_GAP_MS = 60
MIN_PART_WORDS = 3
MAX_FIRST_SHARE = 0.55

_WORD = re.compile(r"\w+")
_CLAUSE_MARK = re.compile(r"[,;:\u2014\u2013\u060c\u061b](?=\s)\s*")
_CONJUNCTIONS: dict[str, tuple[str, ...]] = {
    "en": ("and", "but", "or", "so", "yet", "because", "while", "which", "although",
           "though", "whereas", "unless", "until", "since", "when", "where"),
    "de": ("und", "aber", "oder", "denn", "weil", "während", "obwohl", "wenn", "sondern"),
    "es": ("y", "pero", "o", "porque", "aunque", "mientras", "cuando", "sino"),
    "fr": ("et", "mais", "ou", "car", "parce", "lorsque", "quand", "tandis", "bien"),
    "pt": ("e", "mas", "ou", "porque", "embora", "enquanto", "quando"),
    "it": ("e", "ma", "o", "perché", "mentre", "quando", "sebbene"),
    "fa": ("و", "اما", "ولی", "یا", "چون", "زیرا", "وقتی"),
}


@dataclass(frozen=True, slots=True)
class ClauseCut:
    """A cut of one sentence: the first part ends at ``first_end``, the rest starts at
    ``rest_start`` (offsets in the text given), with ``pause_ms`` of silence between."""

    first_end: int
    rest_start: int
    pause_ms: int


def first_clause_end(
    text: str, start: int, end: int, language: str, *, min_words: int,
    protected: list[tuple[int, int]] | None = None,
) -> ClauseCut | None:
    """Where to cut the sentence ``text[start:end]`` (see the module doc), or None: it is
    shorter than ``min_words`` words (``min_words`` 0: never cut) or has no boundary that
    keeps both parts long enough and the first one short."""
    if min_words <= 0:
        return None
    sentence = text[start:end]
    words = [match.end() for match in _WORD.finditer(sentence)]
    if len(words) < max(min_words, 2 * MIN_PART_WORDS):
        return None
    limit = MAX_FIRST_SHARE * len(sentence.rstrip())
    conjunctions = _CONJUNCTIONS.get(language.split("-")[0].split("_")[0].lower(), ())
    pattern = r"\s+(?:" + "|".join(conjunctions) + r")\b" if conjunctions else None
    candidates = [
        ClauseCut(start + m.start() + 1, start + m.end(), CLAUSE_PAUSE_MS)
        for m in _CLAUSE_MARK.finditer(sentence)
    ]
    if pattern is not None:
        candidates += [
            ClauseCut(start + m.start(), start + m.start() + len(m.group(0))
                      - len(m.group(0).lstrip()), WORD_GAP_MS)
            for m in re.finditer(pattern, sentence, re.IGNORECASE)
        ]
    for cut in sorted(candidates, key=lambda c: (c.pause_ms != CLAUSE_PAUSE_MS, c.first_end)):
        first_words = sum(1 for word_end in words if word_end <= cut.first_end - start)
        if (
            first_words >= MIN_PART_WORDS
            and len(words) - first_words >= MIN_PART_WORDS
            and cut.first_end - start <= limit
            and not any(a < cut.first_end < b or a < cut.rest_start < b
                        for a, b in protected or ())
        ):
            return cut
    return None
