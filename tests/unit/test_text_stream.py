"""Streamed text cut into speakable pieces: sentences, clauses after a stall, flush."""

from __future__ import annotations

import random

import pytest

from voxserve.service.text_stream import TextStream


def feed(stream: TextStream, fragments: list[str], now_s: float = 0.0) -> list[str]:
    pieces: list[str] = []
    for fragment in fragments:
        pieces += stream.add(fragment, now_s)
    return pieces


def test_a_sentence_is_handed_out_when_its_end_arrives() -> None:
    stream = TextStream(max_chars=400, stall_s=0.5)
    assert feed(stream, ["Hel", "lo th", "ere"]) == []
    assert stream.add(".", 0.0) == ["Hello there."]
    assert stream.add(" How are", 0.0) == []
    assert stream.add(" you?", 0.0) == ["How are you?"]
    assert stream.pending == ""


def test_words_and_numbers_split_across_fragments_stay_whole() -> None:
    stream = TextStream(max_chars=400, stall_s=0.5)
    pieces = feed(stream, ["It co", "sts $2", "5", ".", "5", "0 to", "day", ".", " Tw", "enty",
                           " one", "."])
    assert pieces == ["It costs $25.50 today.", "Twenty one."]


@pytest.mark.parametrize("text", [
    "Dr. Smith arrived.", "J. R. R. Tolkien wrote it.", "It is 3.14 wide.",
    "Use tools, e.g. hammers.", "Version 2.0.1 shipped.",
])
def test_periods_that_do_not_end_a_sentence(text: str) -> None:
    stream = TextStream(max_chars=400, stall_s=0.5)
    pieces = feed(stream, list(text))  # one character at a time
    assert pieces == [text]


def test_any_fragmentation_gives_the_same_pieces() -> None:
    text = ("The price is $1,234.56 today. Dr. Jones said: wait! Really? Yes… "
            "Call me at 10:30 tomorrow.\nNew line here. 4. Last")
    reference = TextStream(max_chars=400, stall_s=0.5)
    expected = reference.add(text, 0.0) + reference.flush()
    assert expected == ["The price is $1,234.56 today.", "Dr. Jones said: wait!", "Really?",
                        "Yes…", "Call me at 10:30 tomorrow.", "New line here.", "4.", "Last"]
    rng = random.Random(7)
    for _ in range(50):
        stream = TextStream(max_chars=400, stall_s=0.5)
        fragments, rest = [], text
        while rest:
            size = rng.randint(1, 4)
            fragments.append(rest[:size])
            rest = rest[size:]
        assert feed(stream, fragments) + stream.flush() == expected


def test_a_stall_speaks_up_to_the_last_clause() -> None:
    stream = TextStream(max_chars=400, stall_s=0.5)
    assert stream.add("Well, let me think about that", 10.0) == []
    assert stream.stall_deadline() == 10.5
    assert stream.on_stall(10.4) == []  # not yet
    assert stream.on_stall(10.5) == ["Well,"]
    assert stream.pending == " let me think about that"
    assert stream.on_stall(11.0) == []  # no clause boundary left
    assert stream.add(".", 11.0) == ["let me think about that."]
    assert stream.stall_deadline() is None  # nothing pending


def test_a_stall_does_not_cut_a_number() -> None:
    stream = TextStream(max_chars=400, stall_s=0.5)
    stream.add("We sold 1,", 0.0)
    assert stream.on_stall(1.0) == []
    stream.add("000 units; then", 1.0)
    assert stream.on_stall(2.0) == ["We sold 1,000 units;"]


def test_long_text_without_boundaries_is_cut_at_a_word() -> None:
    stream = TextStream(max_chars=20, stall_s=0.5)
    pieces = feed(stream, ["word " * 10])
    assert pieces and all(len(piece) <= 20 for piece in pieces)
    assert " ".join(pieces + stream.flush()).split() == ["word"] * 10
    assert len(stream.pending) <= 20


def test_flush_hands_out_the_rest_and_punctuation_alone_is_kept() -> None:
    stream = TextStream(max_chars=400, stall_s=0.5)
    assert stream.add("Hi.", 0.0) == ["Hi."]
    assert stream.add("..", 0.0) == []  # nothing to say on its own
    assert stream.add(" Then more", 0.0) == []
    assert stream.flush() == [".. Then more"]
    assert stream.flush() == []
    stream.add("   ", 0.0)
    assert stream.flush() == []
