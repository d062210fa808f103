"""Word times of projects: segments' words moved into chapter and book time as their cues
are, word-level WebVTT/SRT, old records without words, the user's words of a segment."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from voxserve.jobs.outputs import (
    Cue,
    CueWord,
    SegmentAudio,
    assemble_chapter,
    build_book,
    to_word_srt,
    to_word_webvtt,
)
from voxserve.jobs.outputs.cue_words import words_from_json, words_to_json
from voxserve.jobs.work.chapters import cues_from_record
from voxserve.jobs.work.synthesis import Reading, aligned_words, user_words
from voxserve.types import AudioChunk, AudioFormat

RATE = 24_000
EDGE = 1_200  # quiet samples before and after each tone: the joiner keeps 10 ms (240)
MARGIN = 240


def _segment(index: int, paragraph: int, text: str, tone_s: float,
             words: tuple[CueWord, ...] | None, rate: int = RATE) -> SegmentAudio:
    length = round(tone_s * rate)
    tone = 0.5 * np.sin(2 * np.pi * 440 * np.arange(length) / rate)
    edge = np.zeros(EDGE * rate // RATE)
    pcm = np.rint(np.concatenate([edge, tone, edge]) * 32767).astype("<i2")
    return SegmentAudio(0, paragraph, index, text, pcm.tobytes(), rate, words=words)


def _raw(start_samples: int, end_samples: int, word: str) -> CueWord:
    return CueWord(word, start_samples / RATE, end_samples / RATE)


def test_words_move_with_the_trim_and_the_pauses_like_their_cue() -> None:
    first = _segment(0, 0, "Hello big world.", 0.5, (
        _raw(0, EDGE + 2_400, "Hello"),  # starts in the trimmed quiet: at the cue's start
        _raw(EDGE + 3_000, EDGE + 6_000, "big"),
        _raw(EDGE + 7_000, EDGE + 12_000 + 1_000, "world."),  # ends past what was kept
    ))
    second = _segment(1, 1, "Again.", 0.3, (_raw(EDGE, EDGE + 7_200, "Again."),))
    chapter = assemble_chapter(0, "One", [second, first], audio_format=AudioFormat.WAV)
    one, two = chapter.cues
    assert [w.word for w in one.words] == ["Hello", "big", "world."]
    assert one.words[0].start_s == pytest.approx(one.start_s, abs=0.001)
    # raw sample s is at cue start + (s - the trimmed lead (EDGE - MARGIN)) / rate
    lead = EDGE - MARGIN
    assert one.words[1].start_s == pytest.approx(one.start_s + (EDGE + 3_000 - lead) / RATE,
                                                 abs=0.001)
    assert one.words[1].end_s == pytest.approx(one.start_s + (EDGE + 6_000 - lead) / RATE,
                                               abs=0.001)
    assert one.words[2].end_s == pytest.approx(one.end_s, abs=0.001)
    # the second cue follows a paragraph pause (600 ms); its word moves with it
    assert two.start_s == pytest.approx(one.end_s + 0.6, abs=0.001)
    assert two.words[0].start_s == pytest.approx(two.start_s + MARGIN / RATE, abs=0.001)
    assert not any(w.estimated for cue in chapter.cues for w in cue.words)


def test_words_of_a_resampled_segment_keep_their_seconds() -> None:
    words = (CueWord("Tone.", (EDGE + 2_400) / RATE, (EDGE + 4_800) / RATE),)
    first = _segment(0, 0, "First.", 0.2, None)
    other = _segment(1, 0, "Tone.", 0.3, words, rate=16_000)
    chapter = assemble_chapter(0, "One", [first, other], audio_format=AudioFormat.WAV)
    cue = chapter.cues[1]
    assert cue.words[0].start_s == pytest.approx(cue.start_s + 0.1 + MARGIN / RATE, abs=0.002)
    assert cue.words[0].end_s == pytest.approx(cue.start_s + 0.2 + MARGIN / RATE, abs=0.002)


def test_a_segment_without_words_gets_estimates_over_its_cue() -> None:
    chapter = assemble_chapter(0, "One", [_segment(0, 0, "Four words said here.", 0.8, None)],
                               audio_format=AudioFormat.WAV)
    cue = chapter.cues[0]
    assert [w.word for w in cue.words] == ["Four", "words", "said", "here."]
    assert all(w.estimated for w in cue.words)
    assert cue.words[0].start_s == pytest.approx(cue.start_s)
    assert cue.words[-1].end_s == pytest.approx(cue.end_s, abs=0.001)
    starts = [w.start_s for w in cue.words]
    assert starts == sorted(starts) and len(set(starts)) == 4


def test_book_words_are_chapter_words_shifted_by_the_chapter_start(tmp_path: Path) -> None:
    words = (_raw(EDGE, EDGE + 2_400, "Hi"), _raw(EDGE + 2_400, EDGE + 7_200, "there."))
    chapters = [
        assemble_chapter(index, f"C{index}", [
            SegmentAudio(index, 0, index, "Hi there.",
                         _segment(0, 0, "", 0.3, None).pcm_s16le, RATE, words=words)],
                         audio_format=AudioFormat.WAV)
        for index in (0, 1)
    ]
    book = build_book("Book", chapters, audio_format=AudioFormat.WAV, path=tmp_path / "book")
    shifted = [(w.word, w.start_s, w.end_s) for cue in book.cues for w in cue.words]
    expected = [(w.word, w.start_s + start, w.end_s + start)
                for chapter, start in zip(chapters, book.chapter_starts_s, strict=True)
                for cue in chapter.cues for w in cue.words]
    assert [row[0] for row in shifted] == [row[0] for row in expected]
    for got, want in zip(shifted, expected, strict=True):
        assert got[1:] == pytest.approx(want[1:], abs=0.001)
    assert book.chapter_starts_s[1] > 0 and shifted[2][1] > book.chapter_starts_s[1]


CUE = Cue(1.0, 3.0, "Hello <big> world.", 0, words=(
    CueWord("Hello", 1.0, 1.4), CueWord("<big>", 1.5, 1.9), CueWord("world.", 2.0, 2.8)))


def test_word_webvtt_golden() -> None:
    # the first word starts with the cue: no tag (a tag must lie after the cue's start)
    assert to_word_webvtt([CUE]) == (
        "WEBVTT\n\n00:00:01.000 --> 00:00:03.000\n"
        "Hello <00:00:01.500>&lt;big&gt; <00:00:02.000>world.\n"
    )


def test_word_webvtt_tags_only_valid_times_and_wraps_like_sentences() -> None:
    words = tuple(CueWord(f"w{n}", 1.0 + 0.1 * n, 1.05 + 0.1 * n) for n in range(20))
    text = " ".join(w.word for w in words)
    late = CueWord("late", 9.0, 9.5)  # after the cue's end: no tag
    cue = Cue(1.0, 3.5, text + " late", 0, words=(*words, late))
    body = to_word_webvtt([cue]).split("\n")[3:]
    body = [line for line in body if line]
    assert len(body) == 2  # wrapped into two lines, as the sentence file is
    joined = " ".join(body)
    assert joined.count("<00:") == 19 and "<00:00:09" not in joined
    stamps = [joined[i + 1:i + 13] for i in range(len(joined)) if joined[i] == "<"]
    assert stamps == sorted(stamps)


def test_word_srt_is_one_subtitle_per_word() -> None:
    srt = to_word_srt([CUE])
    assert srt.split("\n\n")[1] == "2\n00:00:01,500 --> 00:00:01,900\n<big>"
    assert srt.count("-->") == 3


def test_words_json_round_trip_and_unreadable_values() -> None:
    words = (*CUE.words, CueWord("guess", 3.0, 3.2, estimated=True))
    assert words_from_json(words_to_json(words)) == words
    assert words_from_json(None) is None
    assert words_from_json("not json") is None
    assert words_from_json('[{"start_s": 1}]') is None


def test_chapter_records_from_before_word_times_get_estimated_words() -> None:
    old = {"cues": [[0.5, 1.5, "Old words here.", 3, ""], [2.0, 2.5, "Older.", 4]]}
    cues = cues_from_record(old)
    assert [[w.word for w in c.words] for c in cues] == [["Old", "words", "here."], ["Older."]]
    assert all(w.estimated for c in cues for w in c.words)
    assert cues[0].words[0].start_s == 0.5 and cues[1].words[-1].end_s == 2.5
    new = {"cues": [[0.5, 1.5, "Hi.", 3, "", [CueWord("Hi.", 0.6, 1.4).as_dict()]]]}
    assert cues_from_record(new)[0].words == (CueWord("Hi.", 0.6, 1.4),)


def test_a_segments_words_are_the_users_words() -> None:
    source = "Dr. Smith paid $25.50 at 6:45 PM."
    spoken = "Doctor Smith paid twenty-five dollars and fifty cents at six forty-five PM."
    words, shown = user_words(spoken, source, Reading("en", phonemes=False))
    assert shown == ["Dr.", "Smith", "paid", "$25.50", "at", "6:45 PM."]  # one spoken run
    assert spoken[words[3].spoken_start:words[3].spoken_end].startswith("twenty-five")
    # spoken text another reading would not give (a lexicon): pairs by count, else spoken
    assert user_words("Tomato soup.", "Tomahto soup.", Reading("en", False))[1] == [
        "Tomahto", "soup."]
    assert user_words("one two three", "1 2", Reading("en", False))[1] == ["one", "two",
                                                                          "three"]


def test_aligned_words_need_an_alignment_on_every_chunk() -> None:
    samples = np.zeros(1_000, np.float32)
    phonemes = (("^", 100), ("h", 200), ("i", 200), (" ", 0), ("j", 300), ("o", 200), ("$", 0))
    chunks = [AudioChunk(samples, 1_000, phonemes)]
    words = aligned_words(chunks, "hi yo", "hi yo", Reading("en", False))
    assert words is not None and [w.word for w in words] == ["hi", "yo"]
    assert not any(w.estimated for w in words) and words[0].end_s <= words[1].start_s
    assert aligned_words([*chunks, AudioChunk(samples, 1_000)], "hi yo", "hi yo",
                         Reading("en", False)) is None
