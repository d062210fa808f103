"""The speech API on real scale-out services: Redis as the cache (stopped and restarted
mid-test), S3 (moto server) as the artifact store."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from tests.audio_tools import decode_audio
from tests.integration.services import RedisProcess, free_port
from voxserve.api.app import create_app
from voxserve.settings import Settings

pytestmark = pytest.mark.integration


def _metric(name: str, backend: str) -> float:
    return REGISTRY.get_sample_value(name, {"backend": backend}) or 0.0


def _client(settings: Settings) -> TestClient:
    return TestClient(create_app(settings))


def _ready(client: TestClient) -> None:
    deadline = time.monotonic() + 60
    while client.get("/readyz").status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.05)


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server not installed")
def test_requests_survive_redis_going_away_and_use_it_again(tmp_path: Path) -> None:
    redis_server = RedisProcess(tmp_path)
    redis_server.start()
    settings = Settings(data_dir=tmp_path, engines=["piper"], cache_url=redis_server.url,
                        cache_memory_bytes=0, cache_timeout_ms=200)
    try:
        with _client(settings) as client:
            _ready(client)

            def speak(text: str) -> int:
                response = client.post("/v1/audio/speech",
                                       json={"input": text, "response_format": "pcm"})
                assert response.status_code == 200
                return len(response.content)

            speak("Stored in Redis.")
            hits = _metric("voxserve_cache_hits_total", "redis")
            speak("Stored in Redis.")
            assert _metric("voxserve_cache_hits_total", "redis") == hits + 1

            redis_server.kill()
            errors = _metric("voxserve_cache_errors_total", "redis")
            for n in range(3):  # every request still succeeds
                assert speak(f"Redis is down, request {n}.") > 0
            assert _metric("voxserve_cache_errors_total", "redis") > errors

            redis_server.start()
            time.sleep(1.2)  # the cache skips Redis for a short back-off after errors
            speak("Redis is back.")
            hits = _metric("voxserve_cache_hits_total", "redis")
            speak("Redis is back.")
            assert _metric("voxserve_cache_hits_total", "redis") == hits + 1
    finally:
        redis_server.kill()


@pytest.fixture
def s3_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    moto_server = pytest.importorskip("moto.server")
    boto3 = pytest.importorskip("boto3")
    for name, value in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    port = free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    client: Any = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    client.create_bucket(Bucket="voice-out")
    yield endpoint
    server.stop()


def test_return_url_on_s3_is_a_working_presigned_url(tmp_path: Path, s3_endpoint: str) -> None:
    settings = Settings(data_dir=tmp_path, engines=["piper"], storage_url="s3://voice-out/tts",
                        s3_endpoint_url=s3_endpoint, s3_region="us-east-1")
    with _client(settings) as client:
        _ready(client)
        response = client.post("/v1/audio/speech", json={
            "input": "Stored in a bucket.", "response_format": "opus", "return_url": True})
        assert response.status_code == 201, response.text
        stored = response.json()
        assert stored["url"].startswith(s3_endpoint + "/voice-out/tts/speech/")
        assert stored["expires_in_s"] == settings.storage_url_expiry_s
        download = httpx.get(stored["url"])
        assert download.status_code == 200 and len(download.content) == stored["bytes"]
        samples, rate = decode_audio(download.content, audio_format="ogg")
        assert len(samples) / rate > 0.5


def test_a_project_converts_into_s3(tmp_path: Path, s3_endpoint: str) -> None:
    """Segments, chapters and the book (built from chapter files, uploaded from a file) in
    the bucket; downloads redirect to presigned URLs that serve them."""
    settings = Settings(data_dir=tmp_path, engines=["fake"], storage_url="s3://voice-out/tts",
                        s3_endpoint_url=s3_endpoint, s3_region="us-east-1")
    text = "# One\n\nFirst chapter, first sentence. And a second.\n\n# Two\n\nThe second one.\n"
    with _client(settings) as client:
        _ready(client)
        created = client.post("/v1/projects", json={
            "text": text, "markdown": True, "model": "fake", "voice": "fake-tone",
            "response_format": "mp3"})
        assert created.status_code == 201, created.text
        project_id = created.json()["id"]
        deadline = time.monotonic() + 60
        while (project := client.get(f"/v1/projects/{project_id}").json())["state"] not in (
                "completed", "failed", "canceled"):
            assert time.monotonic() < deadline, project
            time.sleep(0.05)
        assert project["state"] == "completed", project
        book = client.get(f"/v1/projects/{project_id}/audio", follow_redirects=False)
        assert book.status_code == 307
        assert book.headers["location"].startswith(
            f"{s3_endpoint}/voice-out/tts/projects/{project_id}/files/book.mp3")
        samples, rate = decode_audio(httpx.get(book.headers["location"]).content,
                                     audio_format="mp3")
        manifest = httpx.get(client.get(f"/v1/projects/{project_id}/manifest.json",
                                        follow_redirects=False).headers["location"]).json()
        assert len(samples) / rate == pytest.approx(manifest["duration_s"], abs=0.15)
        assert [c["title"] for c in manifest["chapters"]] == ["One", "Two"]
        chapter = client.get(f"/v1/projects/{project_id}/chapters/1/audio",
                             follow_redirects=False)
        assert chapter.status_code == 307
        assert httpx.get(chapter.headers["location"]).status_code == 200
