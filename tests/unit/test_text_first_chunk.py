"""A long first sentence is cut at a clause so its first audio comes sooner (issue 17)."""

from __future__ import annotations

import pytest

from voxserve.text.first_chunk import CLAUSE_PAUSE_MS, WORD_GAP_MS, first_clause_end
from voxserve.text.prepare import TextOptions, prepare

LONG = ("The birch canoe slid on the smooth planks, and glue the sheet to the dark blue "
        "background. It is easy to tell the depth of a well.")


def _cut(text: str, language: str = "en", min_words: int = 12) -> tuple[str, str] | None:
    cut = first_clause_end(text, 0, len(text), language, min_words=min_words)
    return None if cut is None else (text[:cut.first_end], text[cut.rest_start:])


def test_a_long_first_sentence_is_cut_after_its_first_clause_mark() -> None:
    plan = prepare(LONG, TextOptions(first_chunk_min_words=12))
    assert [s.text for s in plan.segments] == [
        "The birch canoe slid on the smooth planks,",
        "and glue the sheet to the dark blue background.",
        "It is easy to tell the depth of a well.",
    ]
    first, rest, _ = plan.segments
    # no extra pause at the seam: the voice's own comma pause, not the sentence pause
    assert first.pause_after_ms == CLAUSE_PAUSE_MS and rest.pause_after_ms is None
    # the user's words and spans follow each part
    assert first.source_text == "The birch canoe slid on the smooth planks,"
    assert LONG[first.source_start:first.source_end] == first.source_text
    assert LONG[rest.source_start:rest.source_end].startswith("and glue")
    assert [LONG[w.source_start:w.source_end] for w in rest.words][:2] == ["and", "glue"]
    assert all(rest.text[w.spoken_start:w.spoken_end] for w in rest.words)


def test_off_by_default_and_for_short_or_later_sentences() -> None:
    assert len(prepare(LONG).segments) == 2  # documents and batch work: whole sentences
    short = "The birch canoe slid, on the smooth planks. And then, after a while, it sank."
    assert len(prepare(short, TextOptions(first_chunk_min_words=12)).segments) == 2
    later = "Hello. " + LONG
    assert [s.text for s in prepare(later, TextOptions(first_chunk_min_words=12)).segments][
        :2] == ["Hello.", "The birch canoe slid on the smooth planks, and glue the sheet to "
                          "the dark blue background."]


def test_a_conjunction_when_there_is_no_clause_mark() -> None:
    text = "The boy was there when the sun rose and the birds sang in the tall green trees."
    assert _cut(text) == ("The boy was there", "when the sun rose and the birds sang in the "
                                               "tall green trees.")
    cut = first_clause_end(text, 0, len(text), "en", min_words=12)
    assert cut is not None and cut.pause_ms == WORD_GAP_MS


@pytest.mark.parametrize(("text", "language", "first"), [
    ("Als wir am Abend nach Hause kamen, war das Essen schon kalt und der Hund schlief.",
     "de", "Als wir am Abend nach Hause kamen,"),
    ("Cuando llegamos a casa por la noche, la cena ya estaba fría y el perro dormía.",
     "es", "Cuando llegamos a casa por la noche,"),
])
def test_other_languages_cut_at_their_clauses(text: str, language: str, first: str) -> None:
    cut = _cut(text, language)
    assert cut is not None and cut[0] == first


@pytest.mark.parametrize("text", [
    # the first clause is too short (two words), the next boundary too late
    "Well then, the birch canoe slid on the smooth planks of the old and dusty dock.",
    # no boundary at all
    "The birch canoe slid on the smooth planks of the old dusty dock near the town.",
    # the only boundary leaves too few words after it
    "The birch canoe slid on the smooth planks of the old dusty dock near us, then sank.",
])
def test_no_cut_without_a_good_boundary(text: str) -> None:
    assert _cut(text) is None


def test_never_inside_phonemes_or_zero_words() -> None:
    text = "The birch canoe slid on [[ ðə smuːð, plæŋks ]] and glue the sheet to the blue mat."
    plan = prepare(text, TextOptions(first_chunk_min_words=12, phonemes=True))
    assert all(s.text.count("[[") == s.text.count("]]") for s in plan.segments)
    assert _cut(LONG, min_words=0) is None
