"""Word start/end times of one segment, from an engine's per-phoneme alignment or estimated.

espeak phonemizes word by word and separates words with a space phoneme, so the phonemes
between spaces are one spoken word (the space's own samples, the transition into the next
word, count as that word's onset). :func:`align_words` maps those groups onto the spoken
words of each :class:`~voxserve.text.words.SpokenWord` (a user's "$25.50" says several
spoken words: it spans all their groups); when the counts disagree (espeak joined "in the"
into one group, or split a word) words and groups are matched in order by size
(characters against phonemes, by dynamic programming). :func:`estimate_words` shares a
segment's duration by characters, for engines that report no alignment (Maya1): callers mark
those times as estimated. The times are in seconds of the segment's own audio as the engine
made it; shifting them by what the server adds (trims, pauses, speed, resampling) is the
caller's job. Both results are monotonic, inside ``[0, duration]`` and one per word.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Sequence
from typing import NamedTuple

from voxserve.text.words import SpokenWord

logger = logging.getLogger(__name__)

#: Piper/espeak markers that carry no word: begin, end, pad, the word separator.
_NOT_WORD = frozenset({"^", "$", "_", " "})
_SPOKEN_TOKEN = re.compile(r"\S+")
#: Punctuation phonemes: pauses between words, not part of one.
_PAUSES = frozenset(",.;:!?…—–-\"'()")
#: Share of a word separator's samples that is the next word's onset: measured against
#: pocketsphinx's forced alignment (bench/word_timing.py, sentences 0-40: word starts were
#: 55 ms late on average with none of it, 35 ms with half, 12 ms with all; ends unchanged).
_SPACE_ONSET = 1.0


def fallback_words(text: str, offset: int = 0) -> tuple[SpokenWord, ...]:
    """One :class:`SpokenWord` per white-space word of ``text`` (a segment's spoken text,
    for segments that carry no mapping of their own); ``offset`` is where the segment starts
    in the request's input (the source offsets)."""
    return tuple(
        SpokenWord(offset + m.start(), offset + m.end(), m.start(), m.end())
        for m in _SPOKEN_TOKEN.finditer(text)
    )


class _Group(NamedTuple):
    """One run of word phonemes: its samples and where each of its sounds starts."""

    start: int
    end: int
    sounds: tuple[int, ...]


def _word_groups(phonemes: Sequence[tuple[str, int]]) -> list[_Group]:
    """The runs of word phonemes; punctuation-only runs ("," ".") are pauses, not words."""
    groups: list[_Group] = []
    position = 0
    start: int | None = None
    sounds: list[int] = []
    space = 0  # samples of the word separator just before (0: none)
    for phoneme, samples in phonemes:
        if phoneme in _NOT_WORD or all(char in _PAUSES for char in phoneme):
            if start is not None and sounds:
                groups.append(_Group(start, position, tuple(sounds)))
            start, sounds = None, []
            space = samples if phoneme == " " else 0
        else:
            if start is None:
                # the separator's samples are the transition into the word (no silence
                # in connected speech): a share of them is the word's onset
                start = position - round(_SPACE_ONSET * space)
            if any(char.isalpha() and unicodedata.category(char) != "Lm" for char in phoneme):
                sounds.append(position)  # a sound; not a stress or length mark (ˈ ˌ ː)
        position += samples
    if start is not None and sounds:
        groups.append(_Group(start, position, tuple(sounds)))
    return groups


def _partition(longer: Sequence[float], shorter: Sequence[float]) -> list[int]:
    """Split ``longer`` into ``len(shorter)`` consecutive non-empty blocks whose sizes best
    match ``shorter``'s (both scaled to the same total): for each element of ``longer``, the
    index of its block. Dynamic programming, O(len(longer)^2 * len(shorter))."""
    n, m = len(longer), len(shorter)
    scale = sum(shorter) / sum(longer)
    prefix = [0.0]
    for value in longer:
        prefix.append(prefix[-1] + value * scale)
    inf = float("inf")
    cost = [[inf] * (n + 1) for _ in range(m + 1)]
    back = [[0] * (n + 1) for _ in range(m + 1)]
    cost[0][0] = 0.0
    for j in range(1, m + 1):
        for i in range(j, n - (m - j) + 1):
            for k in range(j - 1, i):
                if cost[j - 1][k] == inf:
                    continue
                value = cost[j - 1][k] + abs(prefix[i] - prefix[k] - shorter[j - 1])
                if value < cost[j][i]:
                    cost[j][i], back[j][i] = value, k
    blocks = [0] * n
    i = n
    for j in range(m, 0, -1):
        k = back[j][i]
        for index in range(k, i):
            blocks[index] = j - 1
        i = k
    return blocks


def _tokens(text: str, word: SpokenWord) -> list[int]:
    """The character lengths of the spoken words ``word`` covers (at least one)."""
    spoken = text[word.spoken_start:word.spoken_end]
    lengths = [len(m.group()) for m in _SPOKEN_TOKEN.finditer(spoken)
               if any(char.isalnum() for char in m.group())]
    return lengths or [max(1, len(spoken))]


def _token_times(lengths: list[int], groups: list[_Group]) -> list[tuple[int, int]]:
    """Samples of each spoken word. Equal counts map one to one; otherwise the words and
    the groups are matched in order by size (characters vs phonemes): several words in one
    group (espeak joined "in the") share its sounds by characters, cut where a sound
    starts; one word over several groups spans them all."""
    if len(lengths) == len(groups):
        return [(group.start, group.end) for group in groups]
    sizes = [float(len(group.sounds)) for group in groups]
    if len(lengths) < len(groups):
        blocks = _partition(sizes, [float(length) for length in lengths])
        return [(groups[blocks.index(t)].start,
                 groups[len(blocks) - 1 - blocks[::-1].index(t)].end)
                for t in range(len(lengths))]
    blocks = _partition([float(length) for length in lengths], sizes)
    spans = []
    for index, length in enumerate(lengths):
        group = groups[blocks[index]]
        members = [m for m in range(len(lengths)) if blocks[m] == blocks[index]]
        total = sum(lengths[m] for m in members)
        before = sum(lengths[m] for m in members if m < index)
        spans.append((_cut(group, before / total), _cut(group, (before + length) / total)))
    return spans


def _cut(group: _Group, fraction: float) -> int:
    """The sample at ``fraction`` of the group's sounds, on the start of a sound."""
    if fraction <= 0.0:
        return group.start
    if fraction >= 1.0:
        return group.end
    index = min(len(group.sounds) - 1, max(1, round(fraction * len(group.sounds))))
    return group.sounds[index]


def align_words(
    text: str,
    words: Sequence[SpokenWord],
    phonemes: Sequence[tuple[str, int]],
    sample_rate_hz: int,
) -> list[tuple[float, float]]:
    """``(start_s, end_s)`` of each of ``words`` in a segment whose spoken ``text`` the
    engine aligned as ``phonemes`` (``(phoneme, samples)`` in order, e.g. Piper's)."""
    if not words:
        return []
    total_samples = sum(samples for _, samples in phonemes)
    groups = _word_groups(phonemes)
    if not groups:
        return estimate_words(text, words, total_samples / sample_rate_hz)
    per_word = [_tokens(text, word) for word in words]
    spans = _token_times([length for lengths in per_word for length in lengths], groups)
    times: list[tuple[float, float]] = []
    first = 0
    for lengths in per_word:
        last = first + len(lengths) - 1
        times.append((spans[first][0] / sample_rate_hz, spans[last][1] / sample_rate_hz))
        first = last + 1
    return _monotonic(times, total_samples / sample_rate_hz)


def align_or_none(
    text: str,
    words: Sequence[SpokenWord],
    phonemes: Sequence[tuple[str, int]] | None,
    sample_rate_hz: int,
) -> list[tuple[float, float]] | None:
    """:func:`align_words`, or None when there is no alignment or one the mapping cannot
    read (logged): the caller then estimates, since word times must never break audio."""
    if phonemes is None:
        return None
    try:
        return align_words(text, words, phonemes, sample_rate_hz)
    except (ValueError, ArithmeticError, IndexError):
        logger.warning("word alignment failed; estimating", exc_info=True)
        return None


def joined_alignment(
    alignments: Sequence[tuple[tuple[str, int], ...] | None],
) -> tuple[tuple[str, int], ...] | None:
    """One alignment of pieces (engine chunks) laid end to end; None when any piece has
    none. A word separator between pieces, so words do not run across them."""
    if not alignments or any(alignment is None for alignment in alignments):
        return None
    joined: list[tuple[str, int]] = []
    for alignment in alignments:
        assert alignment is not None
        if joined:
            joined.append((" ", 0))
        joined.extend(alignment)
    return tuple(joined)


def estimate_words(
    text: str, words: Sequence[SpokenWord], duration_s: float
) -> list[tuple[float, float]]:
    """``(start_s, end_s)`` of each word when the engine reports no alignment: the duration
    shared by the words' spoken characters (a word's gap before it included)."""
    if not words:
        return []
    weights = [max(1, word.spoken_end - word.spoken_start) for word in words]
    total = sum(weights) + len(words) - 1  # a space's worth between words
    times: list[tuple[float, float]] = []
    position = 0.0
    for weight in weights:
        start = position
        end = start + weight
        times.append((start / total * duration_s, end / total * duration_s))
        position = end + 1
    return _monotonic(times, duration_s)


def _monotonic(times: list[tuple[float, float]], duration_s: float) -> list[tuple[float, float]]:
    """Clamp into ``[0, duration_s]`` and make starts and ends non-decreasing."""
    result: list[tuple[float, float]] = []
    previous_start = 0.0
    for start, end in times:
        start = min(max(start, previous_start), duration_s)
        end = min(max(end, start), duration_s)
        result.append((round(start, 4), round(end, 4)))
        previous_start = start
    return result
