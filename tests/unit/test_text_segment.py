"""Tests for voxserve.text.segment: sentence splitting, length limits, prepare_segments."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor

import pysbd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voxserve.text import prepare_segments, split_segments
from voxserve.text import segment as segment_module

SENTENCES = [
    ("Hello there. How are you? I am fine!", ["Hello there.", "How are you?", "I am fine!"]),
    ('He said "Stop." Then he left.', ['He said "Stop."', "Then he left."]),
    ("Dr. Smith arrived at 3 p.m. He left.", ["Dr. Smith arrived at 3 p.m.", "He left."]),
    ("It cost $5.50. Then it rained.", ["It cost $5.50.", "Then it rained."]),
    ("Hello... world. Yes.", ["Hello... world.", "Yes."]),
    ("One sentence without a full stop", ["One sentence without a full stop"]),
    ("  spaced   out\tsentence.  ", ["spaced out sentence."]),
    ("One.\n\nTwo\nthree.\n\n\n  \n\nFour", ["One.", "Two three.", "Four"]),
    ("No terminal\n\nbut a paragraph break", ["No terminal", "but a paragraph break"]),
    ("Wait. ... Go.", ["Wait.", "Go."]),
    ("Hello. \U0001f600 . Bye.", ["Hello.", "Bye."]),
    ("... !!! — ?", []),
    ("", []),
    (" \n\n \n", []),
]


@pytest.mark.parametrize(("text", "expected"), SENTENCES)
def test_sentences(text: str, expected: list[str]) -> None:
    assert split_segments(text) == expected


@pytest.mark.parametrize(
    ("language", "text", "expected"),
    [
        ("de", "Ich heiße Max. Wie geht es dir?", ["Ich heiße Max.", "Wie geht es dir?"]),
        ("el", "Τι κάνεις; Καλά.", ["Τι κάνεις;", "Καλά."]),
        ("zh", "你好。再见。", ["你好。", "再见。"]),
        ("pt-BR", "Olá. Tudo bem?", ["Olá.", "Tudo bem?"]),  # pysbd lacks pt: English rules
    ],
)
def test_sentences_in_other_languages(language: str, text: str, expected: list[str]) -> None:
    assert split_segments(text, language=language) == expected


LONG = (
    "This is a long clause about nothing in particular, and it keeps going; then another "
    "part follows: with more words here (and a parenthetical remark too) — finally the end "
    "of the sentence arrives, much later than expected."
)


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        (
            LONG,
            100,
            [
                "This is a long clause about nothing in particular, and it keeps going;",
                "then another part follows: with more words here (and a parenthetical remark too)",
                "— finally the end of the sentence arrives, much later than expected.",
            ],
        ),
        (
            "The first part, the second part; and the third part.",
            30,
            ["The first part,", "the second part;", "and the third part."],
        ),
        # a comma is preferred over a more central plain space
        (
            "Short start, then a much longer remainder of words that goes on",
            50,
            ["Short start,", "then a much longer remainder of words that goes on"],
        ),
        # no punctuation: balanced word-boundary pieces
        (
            "alpha beta gamma delta epsilon zeta eta theta iota kappa",
            20,
            ["alpha beta gamma", "delta epsilon zeta", "eta theta iota kappa"],
        ),
        # a giant token is cut into even chunks
        ("x" * 25, 10, ["x" * 9, "x" * 9, "x" * 7]),
        (
            "see https://example.com/averyveryveryverylongpathsegment/another now",
            20,
            ["see", "https://example.com/", "averyveryveryverylon", "gpathsegment/another", "now"],
        ),
        ("a; b; c; d", 5, ["a; b;", "c; d"]),
        ("tiny words", 1, list("tinywords")),
    ],
)
def test_long_sentences_split_at_best_boundaries(
    text: str, limit: int, expected: list[str]
) -> None:
    assert split_segments(text, max_segment_chars=limit) == expected


def test_split_prefers_fewer_pieces() -> None:
    text = ", ".join(["word"] * 40)  # 238 chars, commas everywhere
    pieces = split_segments(text, max_segment_chars=150)
    assert len(pieces) == 2
    assert all(piece.endswith(",") for piece in pieces[:-1])
    assert abs(len(pieces[0]) - len(pieces[1])) <= 12


def test_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_segment_chars"):
        split_segments("Hello.", max_segment_chars=0)


# --- prepare_segments: normalize first, then segment -----------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Dr. Smith arrived at 3 p.m. He left.", ["Doctor Smith arrived at three PM.", "He left."]),
        ("$5.50.", ["five dollars and fifty cents."]),
        (
            "It cost $5.50. Then it rained.",
            ["It cost five dollars and fifty cents.", "Then it rained."],
        ),
        ("It cost 3.5 million.", ["It cost three point five million."]),
        ("It cost 3.5 million. Wow.", ["It cost three point five million.", "Wow."]),
        ("Meet me at 10 a.m. and bring food.", ["Meet me at ten AM and bring food."]),
        (
            "I live on Main St. He lives on Elm St.",
            ["I live on Main Street.", "He lives on Elm Street."],
        ),
        ("Visit St. Louis. It is nice.", ["Visit Saint Louis.", "It is nice."]),
        ("Para one.\n\nPara two", ["Para one.", "Para two"]),
        ("*** ... ***", []),
        ("", []),
    ],
)
def test_prepare_segments(text: str, expected: list[str]) -> None:
    assert prepare_segments(text) == expected


def test_prepare_segments_limits_the_normalized_text() -> None:
    # 30 raw characters, but 115 once spoken: the limit applies to what the engine receives.
    segments = prepare_segments("I paid $1,234,567.89 for it.", max_segment_chars=40)
    assert segments == [
        "I paid one million two hundred",
        "thirty-four thousand five",
        "hundred sixty-seven dollars",
        "and eighty-nine cents for it.",
    ]


def test_prepare_segments_in_german() -> None:
    assert prepare_segments("Ich habe 3 Äpfel. Dr. Müller hat 2.", language="de") == [
        "Ich habe drei Äpfel.",
        "Doktor Müller hat zwei.",
    ]


# --- robustness --------------------------------------------------------------------------------


def _alnum(text: str) -> str:
    """The letters and digits of ``text`` in order: what must survive segmentation."""
    return "".join(char for char in text if char.isalnum())


_PIECES = [".", "!", "?", "...", ";", ":", ",", "—", "(", ")", '"', "\n", "\n\n", " ", "Dr.",
           "e.g.", "3.5", "U.S.", "a)", "1."]  # fmt: skip
_PUNCTUATED_TEXT = st.lists(
    st.one_of(
        st.sampled_from(_PIECES),
        st.text(min_size=1, max_size=12),
        st.text(alphabet="abc xyz", min_size=1, max_size=60),
    ),
    max_size=40,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(_PUNCTUATED_TEXT, st.integers(min_value=1, max_value=80))
def test_segments_fit_and_keep_every_word(text: str, limit: int) -> None:
    segments = split_segments(text, max_segment_chars=limit)
    for segment in segments:
        assert 0 < len(segment) <= limit
        assert segment == segment.strip()
        assert _alnum(segment)
    assert _alnum("".join(segments)) == _alnum(text)


@settings(max_examples=150, deadline=None)
@given(st.text(), st.integers(min_value=1, max_value=500))
def test_prepare_segments_fit_on_any_text(text: str, limit: int) -> None:
    segments = prepare_segments(text, max_segment_chars=limit)
    assert all(0 < len(segment) <= limit and _alnum(segment) for segment in segments)
    assert all("\n" not in segment for segment in segments)


def test_text_pysbd_rewrites_or_drops_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    class Rewriting:
        def process(self) -> list[str]:
            return ["First sentence.", "SECOND (REWRITTEN)", "Third one."]

    monkeypatch.setattr(pysbd.Segmenter, "processor", lambda self, text: Rewriting())
    text = "First sentence. Second one. Third one."
    assert split_segments(text) == ["First sentence.", "Second one. Third one."]


def test_pysbd_failure_keeps_the_paragraph(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(self: pysbd.Segmenter, text: str) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(pysbd.Segmenter, "processor", broken)
    assert split_segments("One. Two.\n\nThree.") == ["One. Two.", "Three."]
    assert "pysbd failed" in caplog.text


def test_long_paragraph_is_windowed_and_linear() -> None:
    sentences = [f"Sentence number {i} is here, and it says a little more." for i in range(600)]
    text = " ".join(sentences)  # ~33,000 chars in one paragraph
    start = time.perf_counter()
    segments = split_segments(text)
    elapsed = time.perf_counter() - start
    assert segments == sentences
    assert elapsed < 10.0  # pysbd alone is quadratic here (minutes); windowing keeps it linear


def test_window_without_any_sentence_end_is_cut_at_a_space() -> None:
    text = " ".join(["word"] * 2000)  # 9,999 chars, no terminal punctuation at all
    segments = split_segments(text + ". End.", max_segment_chars=10_000)
    assert _alnum("".join(segments)) == _alnum(text + "End")
    assert all(not segment.startswith(("ord", "rd", "d ")) for segment in segments)


def test_long_sentence_under_a_large_limit_is_split_evenly() -> None:
    text = " ".join(["word"] * 1400) + ". End."  # one 7,000-char sentence, then a short one
    assert [len(segment) for segment in split_segments(text, max_segment_chars=4000)] == [
        3499,
        3500,
        4,
    ]


def test_shared_segmenter_is_thread_safe() -> None:
    texts = [
        " ".join(f"Text {n} sentence {i}. Mr. Smith said {i}!" for i in range(20))
        for n in range(16)
    ]
    expected = [split_segments(text) for text in texts]
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(5):
            assert list(pool.map(split_segments, texts)) == expected


def test_segmenter_is_created_once_per_language() -> None:
    assert segment_module._segmenter("en") is segment_module._segmenter("en")
    assert re.fullmatch(r"[a-z]{2}", segment_module._pysbd_code("en-US")) is not None
