"""``POST /v1/audio/speech`` with ``timestamps: "word"`` (issue 21): SSE events beside the
audio deltas, the JSON response mode, the 400 where a response cannot carry them, and the
served times against pocketsphinx's forced alignment of the served audio."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.api_tools import ready_client
from tests.asr import harvard_sentences
from tests.asr import words as plain_words
from tests.audio_tools import decode_audio
from tests.forced_alignment import dictionary, reference_times
from voxserve.settings import Settings

TEXT = "It costs $25.50 today. Please pay soon."


@pytest.fixture(scope="module")
def client(settings: Settings) -> Iterator[TestClient]:
    with ready_client(settings.model_copy(update={"cache_backend": "none"})) as client:
        yield client


def _sse(body: str) -> list[dict[str, object]]:
    return [json.loads(line[len("data: "):]) for line in body.splitlines()
            if line.startswith("data: ")]


def _json_speech(client: TestClient, text: str, **extra: object) -> dict[str, object]:
    response = client.post("/v1/audio/speech", json={
        "model": "piper", "input": text, "response_format": "wav",
        "stream_format": "json", "timestamps": "word", **extra})
    assert response.status_code == 200, response.text
    answer: dict[str, object] = response.json()
    return answer


def _check(words: list[dict[str, object]], duration_s: float) -> None:
    previous = (0.0, 0.0)
    for word in words:
        start, end = float(word["start"]), float(word["end"])  # type: ignore[arg-type]
        assert 0.0 <= start < end <= duration_s + 1e-3
        assert (start, end) >= previous and end >= previous[1]
        previous = (start, end)


def test_json_mode_returns_the_audio_and_every_word(client: TestClient) -> None:
    answer = _json_speech(client, TEXT)
    assert answer["content_type"] == "audio/wav"
    samples, rate = decode_audio(base64.b64decode(answer["audio"]))  # type: ignore[arg-type]
    assert answer["audio_seconds"] == pytest.approx(len(samples) / rate, abs=2e-3)
    words = answer["words"]
    assert isinstance(words, list)
    assert [w["word"] for w in words] == ["It", "costs", "$25.50", "today.", "Please",
                                          "pay", "soon."]
    assert not any(w["estimated"] for w in words)
    _check(words, len(samples) / rate)


def test_json_mode_without_timestamps_has_no_words(client: TestClient) -> None:
    response = client.post("/v1/audio/speech", json={
        "model": "piper", "input": "Hello.", "stream_format": "json"})
    assert response.status_code == 200
    assert "words" not in response.json() and response.json()["audio"]


def test_sse_sends_word_timestamps_beside_the_audio(client: TestClient) -> None:
    response = client.post("/v1/audio/speech", json={
        "model": "piper", "input": TEXT, "response_format": "pcm",
        "stream_format": "sse", "timestamps": "word"})
    assert response.status_code == 200
    events = _sse(response.text)
    kinds = [event["type"] for event in events]
    assert kinds[-1] == "speech.audio.done"
    assert kinds.count("speech.word_timestamps") == 2  # one per sentence
    # each sentence's words come after audio that reaches their end
    audio = b""
    words: list[dict[str, object]] = []
    for event in events:
        if event["type"] == "speech.audio.delta":
            audio += base64.b64decode(event["audio"])  # type: ignore[arg-type]
        elif event["type"] == "speech.word_timestamps":
            batch = event["words"]
            assert isinstance(batch, list)
            assert float(batch[-1]["end"]) <= len(audio) / 2 / 22050 + 1e-3
            words.extend(batch)
    assert [w["word"] for w in words][2] == "$25.50"
    _check(words, len(audio) / 2 / 22050)


def test_sse_without_timestamps_sends_none(client: TestClient) -> None:
    response = client.post("/v1/audio/speech", json={
        "model": "piper", "input": "Hello.", "stream_format": "sse"})
    assert "speech.word_timestamps" not in response.text


@pytest.mark.parametrize("extra", [
    {},  # a plain audio response
    {"stream_format": "audio"},
    {"return_url": True},
])
def test_timestamps_where_they_cannot_go_are_a_400(client: TestClient,
                                                   extra: dict[str, object]) -> None:
    response = client.post("/v1/audio/speech", json={
        "model": "piper", "input": "Hello.", "timestamps": "word", **extra})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == "timestamps" and "stream_format" in error["message"]


def test_bad_timestamps_value_is_a_400(client: TestClient) -> None:
    response = client.post("/v1/audio/speech", json={
        "model": "piper", "input": "Hello.", "stream_format": "json", "timestamps": "phoneme"})
    assert response.status_code == 400


def test_served_times_match_forced_alignment(client: TestClient) -> None:
    """Loose bound (the benchmark reports the figures): the served timestamps of a few
    held-out sentences, pocketsphinx aligning the same served audio (resampled to 24 kHz on
    the way, to include the resampler), mean boundary error <= 80 ms."""
    usable = [s for s in harvard_sentences()
              if all(word in dictionary() for word in plain_words(s))][120:126]
    errors: list[float] = []
    for sentence in usable:
        answer = _json_speech(client, sentence, sample_rate=24000)
        samples, rate = decode_audio(base64.b64decode(answer["audio"]))  # type: ignore[arg-type]
        words = answer["words"]
        assert isinstance(words, list)
        expected = plain_words(sentence)
        assert [plain_words(str(w["word"])) for w in words] == [[w] for w in expected]
        reference = reference_times(samples, rate, expected)
        if reference is None:
            continue
        for word, (ref_start, ref_end) in zip(words, reference, strict=True):
            errors += [abs(float(word["start"]) - ref_start),  # type: ignore[arg-type]
                       abs(float(word["end"]) - ref_end)]  # type: ignore[arg-type]
    assert len(errors) >= 40
    assert float(np.mean(errors)) <= 0.080
