"""A real ``voxserve serve`` process speaking with the bundled voice."""

from __future__ import annotations

import struct

import httpx
import openai
import pytest

from tests.audio_tools import decode_audio, pcm_to_float

pytestmark = pytest.mark.e2e

TEXT = "Hello there. How are you today?"


def _speech(server_url: str, **fields: object) -> httpx.Response:
    body = {"model": "piper", "input": TEXT, "voice": "joe", **fields}
    return httpx.post(f"{server_url}/v1/audio/speech", json=body, timeout=60)


@pytest.mark.parametrize(
    ("response_format", "content_type", "container"),
    [
        ("mp3", "audio/mpeg", "mp3"),
        ("opus", "audio/ogg", "ogg"),
        ("aac", "audio/aac", "aac"),
        ("flac", "audio/flac", "flac"),
        ("wav", "audio/wav", "wav"),
    ],
)
def test_each_format_decodes_completely(
    server_url: str, response_format: str, content_type: str, container: str
) -> None:
    response = _speech(server_url, response_format=response_format)
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    samples, rate = decode_audio(response.content, audio_format=container)
    assert 1.2 < len(samples) / rate < 5.0


def test_streamed_wav_has_unknown_length_header(server_url: str) -> None:
    data = _speech(server_url, response_format="wav").content
    riff, riff_size, wave, _, _, fmt, channels, rate = struct.unpack("<4sI4s4sIHHI", data[:28])
    assert (riff, wave, fmt, channels, rate) == (b"RIFF", b"WAVE", 1, 1, 22050)
    assert riff_size == 0xFFFFFFFF
    assert data[36:40] == b"data" and struct.unpack("<I", data[40:44])[0] == 0xFFFFFFFF
    samples, rate = decode_audio(data)
    assert len(samples) == (len(data) - 44) // 2  # every sample after the header is read


def test_pcm_is_raw_s16le(server_url: str) -> None:
    response = _speech(server_url, response_format="pcm", sample_rate=24000)
    assert response.headers["content-type"] == "audio/pcm"
    assert response.headers["x-voxserve-sample-rate"] == "24000"
    samples = pcm_to_float(response.content)
    assert 1.2 < len(samples) / 24000 < 5.0


def test_openai_pcm_is_24_khz_unless_asked(server_url: str) -> None:
    """Issue 23: OpenAI's pcm is 24 kHz; at the voice's 22050 Hz a client that only switched
    its base URL played it 9 % fast. Other formats keep the voice's rate."""
    client = openai.OpenAI(base_url=f"{server_url}/v1", api_key="unused")
    with client.audio.speech.with_streaming_response.create(
        model="tts-1", voice="alloy", input=TEXT, response_format="pcm",
    ) as streamed:
        assert streamed.headers["x-voxserve-sample-rate"] == "24000"
        pcm = b"".join(streamed.iter_bytes(4096))
    wav = _speech(server_url, response_format="wav")
    samples, rate = decode_audio(wav.content)
    assert rate == 22050
    # the same speech: as long at 24 kHz as the WAV is at the voice's rate
    assert len(pcm) / 2 / 24000 == pytest.approx(len(samples) / rate, abs=0.02)
    asked = _speech(server_url, response_format="pcm", sample_rate=22050)
    assert asked.headers["x-voxserve-sample-rate"] == "22050"


def test_unmodified_openai_client(server_url: str, tmp_path: object) -> None:
    client = openai.OpenAI(base_url=f"{server_url}/v1", api_key="unused")
    audio = client.audio.speech.create(model="tts-1", voice="alloy", input=TEXT)
    samples, rate = decode_audio(audio.content)  # default response_format: mp3
    assert len(samples) / rate > 1.2
    with client.audio.speech.with_streaming_response.create(
        model="gpt-4o-mini-tts", voice="nova", input=TEXT, response_format="wav", speed=1.5,
        instructions="Speak cheerfully.",
    ) as streamed:
        data = b"".join(streamed.iter_bytes(4096))
    fast, fast_rate = decode_audio(data)
    assert len(fast) / fast_rate < len(samples) / rate
    with pytest.raises(openai.BadRequestError) as caught:
        client.audio.speech.create(model="tts-1", voice="alloy", input="")
    assert caught.value.status_code == 400
    with pytest.raises(openai.NotFoundError):
        client.audio.speech.create(model="tts-1", voice="nobody-here", input="Hi.")


def test_catalog_endpoints(server_url: str) -> None:
    voices = httpx.get(f"{server_url}/v1/voices").json()["data"]
    assert any(v["id"] == "en_US-joe-medium" for v in voices)
    models = openai.OpenAI(base_url=f"{server_url}/v1", api_key="unused").models.list()
    assert "tts-1" in {model.id for model in models.data}
