"""text.prepare: source spans, words, phonemes, engine tags and lexicons."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voxserve.errors import InvalidLexicon, LexiconNotFound, PhonemesUnsupported
from voxserve.text.lexicon import Lexicon, parse_pls, parse_tsv
from voxserve.text.lexicon_store import LexiconStore
from voxserve.text.normalize import normalize_text, normalize_tracked
from voxserve.text.prepare import TextOptions, prepare
from voxserve.text.tracked import TrackedText
from voxserve.text.words import SpokenWord


def words(text: str, options: TextOptions | None = None) -> list[list[tuple[str, str]]]:
    plan = prepare(text, options)
    return [[(text[w.source_start:w.source_end], s.text[w.spoken_start:w.spoken_end])
             for w in s.words] for s in plan.segments]


def test_subtitles_keep_the_users_words() -> None:
    text = "Dr. Smith paid $25.50 at 6:45 PM. Then he left."
    plan = prepare(text)
    assert [s.source_text for s in plan.segments] == [
        "Dr. Smith paid $25.50 at 6:45 PM.", "Then he left."]
    assert plan.segments[0].text == (
        "Doctor Smith paid twenty-five dollars and fifty cents at six forty-five PM.")
    first = plan.segments[0]
    assert text[first.source_start:first.source_end] == first.source_text


def test_one_spoken_word_per_written_word() -> None:
    assert words("I paid $25.50 today.") == [[
        ("I", "I"), ("paid", "paid"), ("$25.50", "twenty-five dollars and fifty cents"),
        ("today.", "today.")]]


def test_words_said_together_are_one_word() -> None:
    said = words("Am 14:30 Uhr.", TextOptions(language="de"))
    assert said == [[("Am", "Am"), ("14:30 Uhr.", "vierzehn Uhr dreißig.")]]


def test_words_are_spoken_words() -> None:
    segment = prepare("Hello world").segments[0]
    assert segment.words == (SpokenWord(0, 5, 0, 5), SpokenWord(6, 11, 6, 11))


def test_offsets_are_in_the_whole_input_across_paragraphs() -> None:
    text = "First one.\n\nSecond has 3 cats."
    second = prepare(text).segments[1]
    assert text[second.source_start:second.source_end] == "Second has 3 cats."
    assert [text[w.source_start:w.source_end] for w in second.words] == [
        "Second", "has", "3", "cats."]


def test_inline_phonemes_reach_a_phoneme_engine_untouched() -> None:
    plan = prepare("Say [[ ˈhɛ.loʊ ]] twice. Now.", TextOptions(phonemes=True))
    assert [s.text for s in plan.segments] == ["Say [[ ˈhɛ.loʊ ]] twice.", "Now."]
    assert plan.segments[0].source_text == "Say ˈhɛ.loʊ twice."


def test_inline_phonemes_to_an_engine_without_phoneme_input_are_refused() -> None:
    with pytest.raises(PhonemesUnsupported) as raised:
        prepare("Say [[ hɛloʊ ]]", TextOptions(phonemes=False))
    assert raised.value.code == "phonemes_unsupported"


def test_engine_tags_pass_through_and_other_brackets_are_text() -> None:
    maya = TextOptions(engine_tags=("<laugh>", "<sigh>"))
    plan = prepare("Well… <laugh> Okay. <sigh> Fine <b>x</b>", maya)
    spoken = " ".join(s.text for s in plan.segments)
    assert "<laugh>" in spoken and "<sigh>" in spoken
    assert "<b>" not in spoken and "laugh" not in spoken.replace("<laugh>", "")
    assert "<laugh>" not in " ".join(s.source_text for s in plan.segments)
    piper = prepare("Well… <laugh> Okay.", TextOptions())
    assert "<laugh>" not in piper.segments[0].text  # a tag another engine does not declare


LEXICON_TSV = "# a comment\nGIF\tjif\nNguyen\t/ŋwiən/\nSQL\tsequel\n"


def test_lexicon_alias_and_phonemes_before_normalization() -> None:
    lexicon = parse_tsv(LEXICON_TSV)
    plan = prepare("GIF and SQL by Nguyen. GIFs stay.",
                   TextOptions(phonemes=True, lexicon=lexicon))
    assert [s.text for s in plan.segments] == [
        "jif and sequel by [[ ŋwiən ]] .", "GIFs stay."]
    assert plan.segments[0].source_text == "GIF and SQL by Nguyen."
    without_phonemes = prepare("Nguyen", TextOptions(lexicon=lexicon))
    assert without_phonemes.segments[0].text == "Nguyen"


def test_pls_lexicon() -> None:
    pls = """<?xml version="1.0" encoding="UTF-8"?>
<lexicon version="1.0" xmlns="http://www.w3.org/2005/01/pronunciation-lexicon"
         alphabet="ipa" xml:lang="en-US">
  <lexeme><grapheme>W3C</grapheme><alias>World Wide Web Consortium</alias></lexeme>
  <lexeme><grapheme>tomato</grapheme><phoneme>təˈmɑːtoʊ</phoneme></lexeme>
</lexicon>"""
    lexicon = parse_pls(pls)
    assert lexicon.by_grapheme["W3C"].alias == "World Wide Web Consortium"
    assert lexicon.by_grapheme["tomato"].phonemes == "təˈmɑːtoʊ"
    assert lexicon.version and lexicon.version != parse_tsv("W3C\tW three C").version


@pytest.mark.parametrize(
    "content",
    ["no tab here", "word\t", '<!DOCTYPE lexicon [<!ENTITY a "b">]><lexicon/>', "<lexicon",
     "x\t/[[a]]/"],
)
def test_bad_lexicons_are_refused(content: str) -> None:
    with pytest.raises(InvalidLexicon):
        parse_pls(content) if content.startswith("<") else parse_tsv(content)


def test_lexicon_store(tmp_path: Path) -> None:
    store = LexiconStore(tmp_path / "lexicons")
    assert store.for_voice("joe").version == ""
    store.write("global", "tsv", "GIF\tjif\n")
    first = store.for_voice("joe")
    store.write("joe", "tsv", "GIF\tgif with a hard g\n")
    voice = store.for_voice("joe")
    assert voice.by_grapheme["GIF"].alias == "gif with a hard g"
    assert store.for_voice("other").by_grapheme["GIF"].alias == "jif"
    assert voice.version != first.version
    assert [entry["name"] for entry in store.names()] == ["global", "joe"]
    assert store.read("joe") == ("tsv", "GIF\tgif with a hard g\n")
    store.delete("joe")
    assert store.for_voice("joe").version == first.version
    with pytest.raises(LexiconNotFound):
        store.read("joe")
    with pytest.raises(InvalidLexicon):
        store.write("../escape", "tsv", "a\tb\n")


def test_a_broken_lexicon_file_on_disk_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "global.tsv").write_text("broken line\n")
    assert LexiconStore(tmp_path).for_voice("joe") == Lexicon()


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab 1.2,5$%:-\n€£Dr&<>/ü٣")), max_size=60),
       st.sampled_from(["en", "de", "fa", "fr", "nl"]))
def test_tracking_never_changes_the_text_and_spans_stay_in_the_input(
    text: str, language: str
) -> None:
    tracked = normalize_tracked(TrackedText.of(text), language)
    assert "\n\n".join(p.text for p in tracked) == normalize_text(text, language)
    for paragraph in tracked:
        assert all(0 <= a <= b <= len(text) for a, b in
                   zip(paragraph.starts, paragraph.ends, strict=True))
    for segment in prepare(text, TextOptions(language=language)).segments:
        assert 0 <= segment.source_start < segment.source_end <= len(text)
        for word in segment.words:
            assert segment.source_start <= word.source_start < word.source_end
            assert word.source_end <= segment.source_end
            assert 0 <= word.spoken_start < word.spoken_end <= len(segment.text)


def test_a_same_size_edit_is_seen_at_once(tmp_path: Path) -> None:
    store = LexiconStore(tmp_path)
    store.write("global", "tsv", "GIF\tjif\n")
    assert store.for_voice("joe").by_grapheme["GIF"].alias == "jif"
    store.write("global", "tsv", "GIF\tjaf\n")
    assert store.for_voice("joe").by_grapheme["GIF"].alias == "jaf"
