"""SSML: the supported subset, and hostile or unsupported input refused with invalid_ssml."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voxserve.errors import InvalidSsml
from voxserve.text.prepare import TextOptions, prepare
from voxserve.text.ssml import looks_like_ssml

PIPER = TextOptions(phonemes=True)


def texts(ssml: str, options: TextOptions = PIPER) -> list[str]:
    return [segment.text for segment in prepare(ssml, options).segments]


def test_speak_root_is_detected_and_not_read_aloud() -> None:
    plan = prepare('<speak>Hello <break time="1s"/> world</speak>')
    assert plan.ssml
    assert [s.text for s in plan.segments] == ["Hello", "world"]
    assert [s.pause_after_ms for s in plan.segments] == [1000, None]
    assert "speak" not in " ".join(s.text for s in plan.segments)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("<speak>Hi</speak>", True), ('<?xml version="1.0"?>\n<speak>Hi</speak>', True),
     ("  <speak xml:lang='en'>x</speak>", True), ("<speaker>x</speaker>", False),
     ("Say <speak> aloud", False), ("Hello", False), ("<!-- c --><speak>x</speak>", True),
     ('<!DOCTYPE speak [<!ENTITY a "b">]><speak>&a;</speak>', True)],
)
def test_looks_like_ssml(text: str, expected: bool) -> None:
    assert looks_like_ssml(text) is expected


def test_plain_text_is_never_parsed_as_markup() -> None:
    plan = prepare("Use <b>bold</b> & <speak> tags", TextOptions(input_type="auto"))
    assert not plan.ssml
    assert "bold" in plan.segments[0].text


def test_input_type_text_keeps_a_speak_root_as_text() -> None:
    plan = prepare("<speak>Hi</speak>", TextOptions(input_type="text"))
    assert not plan.ssml


@pytest.mark.parametrize(
    ("attrs", "ms"),
    [('time="1500ms"', 1500), ('time="2s"', 2000), ('time="0.25s"', 250),
     ('strength="none"', 0), ('strength="weak"', 250), ('strength="strong"', 750),
     ("", 500)],
)
def test_break_lengths(attrs: str, ms: int) -> None:
    plan = prepare(f"<speak>One <break {attrs}/> two</speak>")
    assert plan.segments[0].pause_after_ms == ms


def test_consecutive_breaks_add_up_and_a_leading_break_is_leading_silence() -> None:
    plan = prepare('<speak><break time="300ms"/>One<break time="1s"/><break time="200ms"/>'
                   "two</speak>")
    assert plan.leading_pause_ms == 300
    assert plan.segments[0].pause_after_ms == 1200


def test_paragraphs_and_sentences_are_boundaries() -> None:
    assert texts("<speak><p><s>One</s><s>two</s></p><p>three</p></speak>") == [
        "One", "two", "three"]


@pytest.mark.parametrize(
    ("element", "said"),
    [
        ('<say-as interpret-as="characters">ABC</say-as>', "A B C"),
        ('<say-as interpret-as="spell-out">ab1</say-as>', "a b one"),
        ('<say-as interpret-as="cardinal">1234</say-as>', "one thousand two hundred thirty-four"),
        ('<say-as interpret-as="ordinal">3</say-as>', "third"),
        ('<say-as interpret-as="telephone">555-0123</say-as>',
         "five five five, zero one two three"),
        ('<say-as interpret-as="date" format="mdy">12/25/2024</say-as>',
         "December twenty-fifth, twenty twenty-four"),
        ('<sub alias="World Wide Web Consortium">W3C</sub>', "World Wide Web Consortium"),
        ('<phoneme alphabet="ipa" ph="təˈmɑːtoʊ">tomato</phoneme>', "[[ təˈmɑːtoʊ ]]"),
        ('<emphasis>really</emphasis><mark name="m1"/>', "really"),
    ],
)
def test_elements(element: str, said: str) -> None:
    assert texts(f"<speak>{element}</speak>") == [said]


def test_say_as_date_in_german() -> None:
    options = TextOptions(language="de")
    said = texts('<speak>Am <say-as interpret-as="date">3.5.2024</say-as></speak>', options)
    assert said == ["Am dritten Mai zweitausendvierundzwanzig"]


def test_phoneme_without_phoneme_input_says_the_text() -> None:
    ssml = '<speak><phoneme alphabet="ipa" ph="təˈmɑːtoʊ">tomato</phoneme></speak>'
    assert texts(ssml, TextOptions(phonemes=False)) == ["tomato"]


def test_prosody_rate_and_lang() -> None:
    plan = prepare('<speak>a <prosody rate="slow">b <prosody rate="150%">c</prosody></prosody>'
                   '<lang xml:lang="fr-FR">3</lang><lang xml:lang="de">3</lang></speak>',
                   TextOptions(languages=("en", "fr")))
    assert [(s.text, s.rate, s.language) for s in plan.segments] == [
        ("a", 1.0, "en"), ("b", 0.8, "en"), ("c", pytest.approx(1.2), "en"),
        ("trois", 1.0, "fr-FR"), ("three", 1.0, "en")]  # the voice cannot speak German


def test_engine_tags_as_elements() -> None:
    options = TextOptions(engine_tags=("<laugh>",))
    assert texts("<speak>Well <laugh/> okay</speak>", options) == ["Well <laugh> okay"]


def test_subtitles_show_the_users_words_without_markup() -> None:
    plan = prepare('<speak>I paid <say-as interpret-as="cardinal">25</say-as> &amp; left.'
                   '<break time="1s"/><sub alias="Doctor">Dr.</sub> Who</speak>')
    assert [s.source_text for s in plan.segments] == ["I paid 25 & left.", "Dr. Who"]


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE speak [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<speak>&lol3;</speak>"""
XXE = """<?xml version="1.0"?>
<!DOCTYPE speak [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><speak>&xxe;</speak>"""


@pytest.mark.parametrize(
    ("ssml", "reason"),
    [
        (BILLION_LAUGHS, "DTD"),
        (XXE, "DTD"),
        ('<!DOCTYPE speak SYSTEM "http://example.com/x.dtd"><speak>x</speak>', "DTD"),
        ("<speak>unclosed", "malformed"),
        ("<speak><p>x</speak>", "malformed"),
        ("<speak>&undefined;</speak>", "malformed"),
        ("<speak><video>x</video></speak>", "not supported"),
        ('<speak><audio src="http://example.com/a.mp3"/></speak>', "audio"),
        ('<speak><break time="forever"/></speak>', "not a time"),
        ('<speak><break time="11s"/></speak>', "at most"),
        ('<speak><say-as interpret-as="expletive">x</say-as></speak>', "not supported"),
        ('<speak><phoneme alphabet="x-sampa" ph="x">x</phoneme></speak>', "alphabet"),
        ('<speak><prosody rate="ludicrous">x</prosody></speak>', "rate"),
        ('<speak><prosody rate="900%">x</prosody></speak>', "between"),
        ("<speak><sub>x</sub></speak>", "alias"),
        ('<speak><sub alias="a"><b>x</b></sub></speak>', "only hold text"),
        ("<speak><speak>x</speak></speak>", "root"),
        ('<speak xmlns:x="urn:x"><x:y>z</x:y></speak>', "namespaces"),
    ],
)
def test_refused(ssml: str, reason: str) -> None:
    with pytest.raises(InvalidSsml, match=reason) as raised:
        prepare(ssml, TextOptions(input_type="ssml"))
    assert raised.value.code == "invalid_ssml"


def test_a_root_other_than_speak_is_refused_when_ssml_is_asked() -> None:
    with pytest.raises(InvalidSsml, match="root"):
        prepare("<p>x</p>", TextOptions(input_type="ssml"))
    with pytest.raises(InvalidSsml, match="malformed"):
        prepare("just text", TextOptions(input_type="ssml"))


def test_ten_thousand_nested_elements_are_refused_quickly() -> None:
    ssml = "<speak>" + "<p>" * 10_000 + "x" + "</p>" * 10_000 + "</speak>"
    started = time.perf_counter()
    with pytest.raises(InvalidSsml, match="deeper"):
        prepare(ssml)
    assert time.perf_counter() - started < 5  # a generous bound: it must not hang or recurse


def test_many_flat_elements_are_fine() -> None:
    ssml = "<speak>" + "<s>word</s>" * 2000 + "</speak>"
    assert len(prepare(ssml).segments) == 2000


_PIECES = ["<speak>", "</speak>", "<p>", "</p>", "<s>", "</s>", '<break time="5ms"/>',
           "<break/>", '<say-as interpret-as="date">', '<say-as interpret-as="ordinal">',
           "</say-as>", '<sub alias="x">', "</sub>", '<prosody rate="fast">', "</prosody>",
           '<phoneme ph="a">', "</phoneme>", "<laugh/>", "&amp;", "&#x41;", "&bogus;", "<",
           ">", "12/31/2024", "3", " ", "word", "[[ a ]]", "<!-- c -->", "<![CDATA[x]]>", "é"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=25))
def test_any_input_is_spoken_or_refused_with_invalid_ssml(pieces: list[str]) -> None:
    text = "<speak>" + "".join(pieces) + "</speak>"
    try:
        plan = prepare(text, TextOptions(phonemes=True, engine_tags=("<laugh>",)))
    except InvalidSsml:
        return
    for segment in plan.segments:  # an engine tag alone says no words: an empty span
        assert 0 <= segment.source_start <= segment.source_end <= len(text)
        assert "<speak" not in segment.source_text
