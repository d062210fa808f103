"""Streaming over a real socket: audio leaves before later sentences are synthesized,
and a client that goes away stops the synthesis of the rest."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import uvicorn

from tests.conftest import free_port, wait_ready
from voxserve.api.app import create_app
from voxserve.engines.fake import FakeEngine
from voxserve.settings import Settings


@dataclass
class LiveServer:
    url: str
    fake: FakeEngine


@pytest.fixture(scope="module")
def live(settings: Settings) -> Iterator[LiveServer]:
    app = create_app(settings.model_copy(  # no cache: the hook must see every synthesis
        update={"engines": ["fake"], "default_model": "fake", "cache_url": "none"}))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    wait_ready(url, None, timeout_s=30)
    fake = app.state.catalog.engine("fake")
    assert isinstance(fake, FakeEngine)
    yield LiveServer(url, fake)
    server.should_exit = True
    thread.join(timeout=10)


@pytest.mark.parametrize("response_format", ["pcm", "wav", "mp3", "opus", "aac", "flac"])
def test_first_audio_leaves_before_second_sentence_is_synthesized(
    live: LiveServer, response_format: str
) -> None:
    release = threading.Event()
    waited_out: list[bool] = []

    def hold_second(text: str) -> None:
        if text.startswith("Second"):
            waited_out.append(not release.wait(timeout=20))

    live.fake.before_segment = hold_second
    try:
        body = {"input": "First sentence is long enough to encode. Second one waits. Third.",
                "response_format": response_format}
        with httpx.stream("POST", f"{live.url}/v1/audio/speech", json=body, timeout=60) as r:
            assert r.status_code == 200
            pieces = r.iter_raw()
            first = next(pieces)
            assert first
            release.set()  # only now may the second sentence be synthesized
            rest = b"".join(pieces)
        assert waited_out == [False], "the first bytes only came after the whole text"
        assert rest, "the later sentences never arrived"
    finally:
        live.fake.before_segment = None
        release.set()


def test_disconnect_stops_synthesis(live: LiveServer) -> None:
    sentences = [f"Sentence number {n} is here." for n in range(1, 41)]
    started = threading.Event()

    def slow(text: str) -> None:
        started.set()
        time.sleep(0.05)

    live.fake.before_segment = slow
    try:
        before = len(live.fake.segments_synthesized)
        with httpx.stream("POST", f"{live.url}/v1/audio/speech",
                          json={"input": " ".join(sentences), "response_format": "pcm"},
                          timeout=30) as r:
            next(r.iter_raw())
        time.sleep(1.0)  # 40 segments x 50 ms = 2 s if nobody stopped them
        done = len(live.fake.segments_synthesized) - before
        assert done < len(sentences) // 2
    finally:
        live.fake.before_segment = None
