"""HTTP API in-process: shapes, every bad input -> 4xx in OpenAI's error shape."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api_tools import ready_client
from tests.audio_tools import decode_audio
from voxserve.api.app import create_app
from voxserve.settings import Settings


@pytest.fixture(scope="module")
def client(settings: Settings) -> Iterator[TestClient]:
    with ready_client(settings) as test_client:
        yield test_client


def _assert_error(response: Any, status: int, param: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert isinstance(error["message"], str) and error["message"]
    assert error["type"] in ("invalid_request_error", "server_error")
    assert "code" in error
    if param is not None:
        assert error["param"] == param
    return dict(error)


def test_health_and_ready(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "detail": None}
    assert client.get("/readyz").status_code == 200


def test_readyz_is_503_while_loading(settings: Settings) -> None:
    app = create_app(settings)  # lifespan not started: nothing loaded
    with TestClient(app) as fresh:
        app.state.catalog._ready.clear()
        response = fresh.get("/readyz")
        assert response.status_code == 503
        assert response.headers["retry-after"]
        speech = fresh.post("/v1/audio/speech", json={"input": "Hello."})
        _assert_error(speech, 503)


def test_models_and_voices(client: TestClient) -> None:
    models = client.get("/v1/models").json()
    assert models["object"] == "list"
    ids = {model["id"] for model in models["data"]}
    assert {"piper", "tts-1", "tts-1-hd", "gpt-4o-mini-tts", "fake"} <= ids
    assert client.get("/v1/models/tts-1").json()["engine"] == "piper"
    _assert_error(client.get("/v1/models/nope"), 404, "model")
    voices = client.get("/v1/voices").json()["data"]
    joe = next(voice for voice in voices if voice["id"] == "en_US-joe-medium")
    assert joe == {
        "id": "en_US-joe-medium", "object": "voice", "engine": "piper", "language": "en_US",
        "sample_rate": 22050, "description": joe["description"], "speakers": [],
        "aliases": ["joe"], "openai_voices": joe["openai_voices"], "version": "bundled",
        "versions": ["bundled"], "preview_url": "/v1/voices/en_US-joe-medium/preview",
    }
    assert {"alloy", "nova"} <= set(joe["openai_voices"])


def test_speech_mp3_default(client: TestClient) -> None:
    response = client.post("/v1/audio/speech", json={
        "model": "piper", "input": "Hello there. How are you today?", "voice": "joe"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "audio/mpeg"
    samples, rate = decode_audio(response.content)
    assert rate == 22050 and len(samples) / rate > 1.0


def test_speech_sse(client: TestClient) -> None:
    response = client.post("/v1/audio/speech", json={
        "input": "Hello there. Bye.", "voice": "alloy", "response_format": "pcm",
        "stream_format": "sse"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [json.loads(line[len("data: "):]) for line in response.text.splitlines()
              if line.startswith("data: ")]
    assert [e["type"] for e in events[:-1]] == ["speech.audio.delta"] * (len(events) - 1)
    assert events[-1]["type"] == "speech.audio.done"
    pcm = b"".join(base64.b64decode(e["audio"]) for e in events[:-1])
    # pcm comes at OpenAI's 24 kHz unless sample_rate says otherwise (issue 23)
    assert response.headers["x-voxserve-sample-rate"] == "24000"
    assert len(pcm) / 2 / 24000 == pytest.approx(events[-1]["usage"]["output_audio_seconds"],
                                                 abs=0.01)
    assert events[-1]["usage"]["input_characters"] == len("Hello there. Bye.")


def test_engine_options_and_sample_rate(client: TestClient) -> None:
    response = client.post("/v1/audio/speech", json={
        "input": "Hello there.", "response_format": "wav", "sample_rate": 16000,
        "options": {"noise_scale": 0.3, "noise_w_scale": 0.5}})
    assert response.status_code == 200
    _samples, rate = decode_audio(response.content)
    assert rate == 16000


def test_engine_failure_is_a_500_in_error_shape(client: TestClient) -> None:
    response = client.post("/v1/audio/speech", json={
        "model": "fake", "input": "Please explode now.", "options": {"fail_on": "explode"}})
    error = _assert_error(response, 500)
    assert error["code"] == "engine_failed"


BAD_REQUESTS: list[tuple[str, Any, int, str | None]] = [
    ("empty input", {"input": ""}, 400, "input"),
    ("whitespace input", {"input": "   \n "}, 400, "input"),
    ("missing input", {"model": "piper"}, 400, "input"),
    ("input too long", {"input": "a" * 4097}, 400, "input"),
    ("input not a string", {"input": 42}, 400, "input"),
    ("input a list", {"input": ["a", "b"]}, 400, "input"),
    ("unknown model", {"input": "Hi.", "model": "tts-9"}, 404, "model"),
    ("unknown voice", {"input": "Hi.", "voice": "nobody"}, 404, "voice"),
    ("unknown format", {"input": "Hi.", "response_format": "ogg"}, 400, "response_format"),
    ("speed too low", {"input": "Hi.", "speed": 0.1}, 400, "speed"),
    ("speed too high", {"input": "Hi.", "speed": 4.01}, 400, "speed"),
    ("speed not a number", {"input": "Hi.", "speed": "fast"}, 400, "speed"),
    ("bad stream format", {"input": "Hi.", "stream_format": "chunks"}, 400, "stream_format"),
    ("bad sample rate", {"input": "Hi.", "sample_rate": 1000}, 400, "sample_rate"),
    ("sample rate a string", {"input": "Hi.", "sample_rate": "fast"}, 400, "sample_rate"),
    ("unknown field", {"input": "Hi.", "colour": "blue"}, 400, "colour"),
    ("bad option", {"input": "Hi.", "options": {"noise_scale": 9}}, 400, "options.noise_scale"),
    ("unknown option", {"input": "Hi.", "options": {"pitch": 2}}, 400, "options.pitch"),
    ("options not an object", {"input": "Hi.", "options": [1]}, 400, "options"),
    ("body is a list", ["Hi."], 400, None),
    ("body is a string", "Hi.", 400, None),
    ("model wrong type", {"input": "Hi.", "model": 5}, 400, "model"),
]


@pytest.mark.parametrize(("case", "body", "status", "param"), BAD_REQUESTS,
                         ids=[case[0] for case in BAD_REQUESTS])
def test_bad_input_gets_4xx(client: TestClient, case: str, body: Any, status: int,
                            param: str | None) -> None:
    _assert_error(client.post("/v1/audio/speech", json=body), status, param)


@pytest.mark.parametrize("raw", [b"{not json", b"", b'{"input": "Hi."', b"\xff\xfe"])
def test_malformed_json_gets_400(client: TestClient, raw: bytes) -> None:
    response = client.post("/v1/audio/speech", content=raw,
                           headers={"content-type": "application/json"})
    _assert_error(response, 400)


def test_unknown_route_and_method(client: TestClient) -> None:
    _assert_error(client.get("/v1/nothing"), 404)
    _assert_error(client.get("/v1/audio/speech"), 405)


def test_openapi_docs(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "/v1/audio/speech" in spec["paths"]
    assert client.get("/docs").status_code == 200
