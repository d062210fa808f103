"""The served audio says the text: pocketsphinx transcribes it with WER <= 0.25.

Sentences are every 30th of the Harvard list (not hand-picked). Controls that must fail keep
the domain language model honest: the same transcripts scored against other sentences, and
the same audio played backwards (same spectrum, no words).
"""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.asr import harvard_sentences, transcribe, word_error_rate
from tests.audio_tools import decode_audio

pytestmark = pytest.mark.e2e

MAX_WER = 0.25


@pytest.fixture(scope="module")
def lm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lm")


@pytest.mark.parametrize(("response_format", "container"), [("wav", "wav"), ("opus", "ogg")])
def test_speech_is_intelligible(
    server_url: str, lm_dir: Path, response_format: str, container: str
) -> None:
    sentences = harvard_sentences()[::30]
    transcripts, reversed_transcripts = [], []
    for sentence in sentences:
        response = httpx.post(
            f"{server_url}/v1/audio/speech",
            json={"model": "piper", "voice": "joe", "input": sentence,
                  "response_format": response_format, "sample_rate": 16000},
            timeout=60,
        )
        assert response.status_code == 200
        samples, rate = decode_audio(response.content, audio_format=container)
        if container == "wav":
            assert rate == 16000  # Opus decoders always give 48 kHz
        transcripts.append(transcribe(samples, rate, lm_dir))
        reversed_transcripts.append(transcribe(np.ascontiguousarray(samples[::-1]), rate, lm_dir))

    wer = word_error_rate(list(zip(sentences, transcripts, strict=True)))
    shifted = sentences[1:] + sentences[:1]
    wrong_reference_wer = word_error_rate(list(zip(shifted, transcripts, strict=True)))
    reversed_wer = word_error_rate(list(zip(sentences, reversed_transcripts, strict=True)))
    report = "\n".join(f"{s!r} -> {t!r}" for s, t in zip(sentences, transcripts, strict=True))
    assert wer <= MAX_WER, f"WER {wer:.3f}\n{report}"
    assert wrong_reference_wer > 0.7, f"control: transcripts match other sentences ({report})"
    assert reversed_wer > 0.6, f"control: backwards audio recognised (WER {reversed_wer:.3f})"
