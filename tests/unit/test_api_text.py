"""The text step through the HTTP API: SSML breaks as exact silences, invalid SSML as a 400,
phonemes and lexicons (admin API) changing what is said and the cache key."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.api_tools import ready_client
from tests.audio_tools import decode_audio, longest_quiet_s
from voxserve.settings import Settings


@pytest.fixture(scope="module")
def client(settings: Settings) -> Iterator[TestClient]:
    with ready_client(settings) as test_client:
        yield test_client


def speak(client: TestClient, text: str, **extra: Any) -> tuple[np.ndarray, int]:
    response = client.post("/v1/audio/speech", json={
        "model": "piper", "voice": "joe", "input": text, "response_format": "wav", **extra})
    assert response.status_code == 200, response.text
    return decode_audio(response.content)


@pytest.mark.parametrize("ms", [1500, 400])
def test_break_is_a_silence_of_that_length(client: TestClient, ms: int) -> None:
    samples, rate = speak(client, f'<speak>Hello there. <break time="{ms}ms"/> Goodbye.</speak>')
    assert longest_quiet_s(samples, rate) == pytest.approx(ms / 1000, abs=0.005)


def test_without_a_break_the_pause_is_the_usual_one(client: TestClient) -> None:
    samples, rate = speak(client, "<speak>Hello there. Goodbye.</speak>")
    assert longest_quiet_s(samples, rate) < 0.4


def test_break_at_the_end_is_trailing_silence(client: TestClient) -> None:
    paused, rate = speak(client, '<speak><break time="500ms"/>Hello.<break time="1s"/></speak>')
    loud = np.flatnonzero(np.abs(paused) > 0.002)
    assert loud[0] / rate == pytest.approx(0.5, abs=0.005)  # a leading break too
    assert (paused.size - 1 - loud[-1]) / rate == pytest.approx(1.0, abs=0.005)


def test_slow_prosody_is_longer(client: TestClient) -> None:
    normal, _ = speak(client, "<speak>The birch canoe slid on the smooth planks.</speak>")
    slow, _ = speak(client, '<speak><prosody rate="50%">The birch canoe slid on the smooth '
                            "planks.</prosody></speak>")
    assert slow.size > 1.6 * normal.size


@pytest.mark.parametrize(
    "body",
    [{"input": "<speak>Hello <break time='1s'></speak>"},
     {"input": '<!DOCTYPE speak [<!ENTITY a "b">]><speak>&a;</speak>'},
     {"input": "<speak><audio src='x.mp3'/></speak>"},
     {"input": "no markup", "input_type": "ssml"}],
)
def test_invalid_ssml_is_a_400(client: TestClient, body: dict[str, Any]) -> None:
    response = client.post("/v1/audio/speech", json={"model": "piper", **body})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_ssml" and error["param"] == "input"
    assert error["type"] == "invalid_request_error"


def test_input_type_text_reads_markup_as_text(client: TestClient) -> None:
    response = client.post("/v1/audio/speech", json={
        "model": "piper", "input": "<speak>Hi</speak>", "input_type": "text",
        "response_format": "wav"})
    assert response.status_code == 200


def test_unknown_input_type_is_a_400(client: TestClient) -> None:
    response = client.post("/v1/audio/speech", json={"input": "Hi", "input_type": "html"})
    assert response.status_code == 400


def test_inline_phonemes_change_the_audio(client: TestClient) -> None:
    written, _ = speak(client, "Hello tomato.")
    phonemes, _ = speak(client, "Hello [[ təˈmɑːtoʊ ]].")
    assert written.size != phonemes.size or not np.array_equal(written, phonemes)


def test_lexicon_admin_api_and_cache(client: TestClient) -> None:
    text = "I love GIF files."
    before, _ = speak(client, text)
    put = client.put("/v1/admin/lexicons/global", content="GIF\tjiff\n",
                     headers={"content-type": "text/tab-separated-values"})
    assert put.status_code == 200, put.text
    assert put.json()["entries"] == 1 and put.json()["version"]
    try:
        assert client.get("/v1/admin/lexicons").json()["data"][0]["name"] == "global"
        assert client.get("/v1/admin/lexicons/global").text == "GIF\tjiff\n"
        after, _ = speak(client, text)
        assert not np.array_equal(before, after)  # not the cached audio of the old reading
        bad = client.put("/v1/admin/lexicons/global", content="no tab")
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_lexicon"
        evil = client.put("/v1/admin/lexicons/global?format=pls",
                          content='<!DOCTYPE x [<!ENTITY a "b">]><lexicon/>')
        assert evil.status_code == 400
    finally:
        assert client.delete("/v1/admin/lexicons/global").status_code == 204
    assert client.get("/v1/admin/lexicons/global").status_code == 404
    again, _ = speak(client, text)
    assert np.array_equal(before, again)
