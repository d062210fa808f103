"""The speech API with the result cache (memory + disk) and local artifact storage."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from tests.audio_tools import decode_audio
from voxserve.api.app import create_app
from voxserve.settings import Settings

TEXT = "The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background."


def _hits(backend: str = "memory") -> float:
    return REGISTRY.get_sample_value("voxserve_cache_hits_total", {"backend": backend}) or 0.0


def _ready(client: TestClient) -> None:
    deadline = time.monotonic() + 60
    while client.get("/readyz").status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.05)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("cache-api"), engines=["piper"])
    with TestClient(create_app(settings)) as test_client:
        _ready(test_client)
        yield test_client


def _speak(client: TestClient, text: str, **extra: object) -> bytes:
    headers = extra.pop("headers", {})
    response = client.post("/v1/audio/speech", headers=headers,  # type: ignore[arg-type]
                           json={"input": text, "response_format": "wav", **extra})
    assert response.status_code in (200, 201), response.text
    return response.content


def test_repeated_sentences_come_from_the_cache(client: TestClient) -> None:
    first = _speak(client, TEXT)
    before = _hits()
    second = _speak(client, TEXT)
    assert _hits() == before + 2  # both sentences
    assert second == first  # a hit gives exactly the bytes a miss gave
    # A paragraph sharing one sentence reuses it.
    before = _hits()
    _speak(client, "Glue the sheet to the dark blue background. Rice is often served in bowls.")
    assert _hits() == before + 1


def test_cache_key_covers_synthesis_settings(client: TestClient) -> None:
    _speak(client, "A fresh sentence for the key test.")
    before = _hits()
    _speak(client, "A fresh sentence for the key test.", speed=1.3)
    _speak(client, "A fresh sentence for the key test.", sample_rate=16000)
    _speak(client, "A fresh sentence for the key test.", options={"noise_scale": 0.2})
    # speed and noise change the audio: misses; the output rate does not (resampled after).
    assert _hits() == before + 1


def test_bypass_header_skips_the_cache(client: TestClient) -> None:
    _speak(client, "Bypass me twice.")
    before = _hits()
    _speak(client, "Bypass me twice.", headers={"X-Voxserve-Cache": "bypass"})
    assert _hits() == before


def test_return_url_stores_the_audio(client: TestClient, tmp_path: Path) -> None:
    response = client.post("/v1/audio/speech", json={
        "input": "Keep this for later.", "response_format": "mp3", "return_url": True})
    assert response.status_code == 201
    stored = response.json()
    assert stored["object"] == "speech.file" and stored["content_type"] == "audio/mpeg"
    assert stored["audio_seconds"] > 0.5
    download = client.get(stored["url"])
    assert download.status_code == 200
    assert download.headers["content-type"] == "audio/mpeg"
    assert len(download.content) == stored["bytes"]
    samples, rate = decode_audio(download.content, audio_format="mp3")
    assert len(samples) / rate > 0.5
    missing = client.get("/v1/audio/files/speech/nothing-here.mp3")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    traversal = client.get("/v1/audio/files/..%2F..%2Fetc%2Fpasswd")
    assert traversal.status_code == 404
