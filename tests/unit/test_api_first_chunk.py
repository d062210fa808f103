"""An interactive request's long first sentence is spoken in two parts (first audio sooner)
with no seam a listener or a recognizer notices; batch requests keep it whole (issue 17)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.api_tools import ready_client
from tests.asr import transcribe, word_errors
from tests.audio_tools import decode_audio
from voxserve.settings import Settings

# Harvard sentences (tests/data/harvard-dev.txt), the first two joined at a comma
TEXT = ("The birch canoe slid on the smooth planks, glue the sheet to the dark blue "
        "background. It's easy to tell the depth of a well.")
QUIET = {"noise_scale": 0.0, "noise_w_scale": 0.0}


@pytest.fixture(scope="module")
def client(settings: Settings) -> Iterator[TestClient]:
    with ready_client(settings) as test_client:
        yield test_client


def _speak(client: TestClient, priority: str) -> tuple[int, float, bytes]:
    response = client.post(
        "/v1/audio/speech",
        json={"input": TEXT, "response_format": "wav", "options": QUIET},
        headers={"X-Voxserve-Priority": priority, "X-Voxserve-Cache": "bypass"},
    )
    assert response.status_code == 200, response.text
    samples, rate_hz = decode_audio(response.content)
    return int(response.headers["X-Voxserve-Segments"]), len(samples) / rate_hz, response.content


def test_interactive_cuts_the_first_sentence_batch_does_not(
    client: TestClient, tmp_path: Path
) -> None:
    parts, split_s, split_wav = _speak(client, "interactive")
    whole, whole_s, _ = _speak(client, "batch")
    assert (parts, whole) == (3, 2)
    # No extra pause at the cut: the voice's own comma pause, so the same length within 5 %.
    assert split_s == pytest.approx(whole_s, rel=0.05)
    samples, rate_hz = decode_audio(split_wav)
    heard = transcribe(samples, rate_hz, tmp_path)
    errors, count = word_errors(TEXT, heard)
    assert errors / count <= 0.2, heard


def test_off_when_configured(settings: Settings) -> None:
    off = settings.model_copy(update={"first_chunk_min_words": 0})
    with ready_client(off) as test_client:
        assert _speak(test_client, "interactive")[0] == 2
