"""Operating a real server process: logs, request ids, metrics, overload, deadlines, drain."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.audio_tools import pcm_to_float
from tests.conftest import free_port, wait_ready
from voxserve.engines.fake import FAKE_SAMPLE_RATE_HZ, tone_for

pytestmark = pytest.mark.e2e


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log_lines(self) -> list[dict[str, object]]:
        lines = []
        for line in self.log_path.read_text().splitlines():
            if line.startswith("{"):
                lines.append(json.loads(line))
        return lines


def _start(tmp_path: Path, **env: str) -> Server:
    port = free_port()
    log_path = tmp_path / "server.log"
    environment = {
        **os.environ, "VOXSERVE_DATA_DIR": str(tmp_path / "data"), "VOXSERVE_ENGINES": "fake",
        "VOXSERVE_DEFAULT_MODEL": "fake", **env,
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "voxserve", "serve", "--port", str(port)],
            env=environment, stdout=log, stderr=subprocess.STDOUT,
        )
    server = Server(f"http://127.0.0.1:{port}", process, log_path)
    wait_ready(server.url, process, timeout_s=60)
    return server


def _stop(server: Server) -> None:
    if server.process.poll() is None:
        server.process.kill()
        server.process.wait(10)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = _start(tmp_path_factory.mktemp("ops"), VOXSERVE_MAX_QUEUE_SEGMENTS="3")
    yield running
    _stop(running)


def _speak(server: Server, text: str, headers: dict[str, str] | None = None,
           **options: object) -> httpx.Response:
    return httpx.post(
        f"{server.url}/v1/audio/speech",
        json={"input": text, "response_format": "pcm", "options": options},
        headers=headers or {}, timeout=60,
    )


def test_request_id_is_echoed_and_access_line_is_json_without_text(server: Server) -> None:
    secret = "Nobody should read this sentence in the logs."
    response = _speak(server, secret, headers={"X-Request-ID": "req-42.abc"})
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "req-42.abc"
    generated = _speak(server, "Hello.").headers["x-request-id"]
    assert len(generated) == 32
    access = [line for line in server.log_lines() if line.get("logger") == "voxserve.access"
              and line.get("request_id") == "req-42.abc"]
    assert len(access) == 1
    entry = access[0]
    assert entry["status"] == 200 and entry["path"] == "/v1/audio/speech"
    assert entry["characters"] == len(secret)
    assert isinstance(entry["audio_s"], float) and entry["audio_s"] > 0
    assert isinstance(entry["duration_ms"], float)
    assert "Nobody should read" not in server.log_path.read_text()


def test_overload_is_refused_with_503_and_retry_after(server: Server) -> None:
    # One replica, 3 queued segments at most, each segment takes 300 ms: 8 concurrent
    # requests of 2 segments cannot all be admitted.
    results: list[httpx.Response] = []

    def client(n: int) -> None:  # distinct texts: identical ones would be synthesized once
        # through the cache (the default): each request's first segment is queued only
        # after an awaited cache lookup, and admission must still hold the bound
        results.append(_speak(server, f"Client {n} first part. Second part {n}.",
                              sleep_ms=300))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    refused = [r for r in results if r.status_code == 503]
    served = [r for r in results if r.status_code == 200]
    assert refused and served
    for response in refused:
        assert int(response.headers["retry-after"]) >= 1
        assert response.json()["error"]["code"] == "overloaded"
    for response in served:  # what was accepted was served completely
        assert len(pcm_to_float(response.content)) > FAKE_SAMPLE_RATE_HZ * 0.5


def _wait_queue_full(server: Server, *, queued: int, timeout_s: float = 20) -> None:
    """Until the fake engine's interactive queue holds ``queued`` segments (the metric),
    so a test does not rely on how fast its own threads reach the server."""
    pattern = re.compile(
        r'^voxserve_queue_depth\{engine="fake",priority="interactive"\} (\S+)$', re.M)
    deadline = time.monotonic() + timeout_s
    depth = 0.0
    while time.monotonic() < deadline:
        match = pattern.search(httpx.get(f"{server.url}/metrics").text)
        depth = float(match.group(1)) if match else 0.0
        if depth >= queued:
            return
        time.sleep(0.05)
    raise AssertionError(f"the queue holds {depth} segments, not {queued}, after {timeout_s} s")


def test_cached_audio_is_served_while_the_engine_is_overloaded(server: Server) -> None:
    warm = _speak(server, "Served from the cache under load.")
    assert warm.status_code == 200
    hogs: list[httpx.Response] = []
    threads = [
        threading.Thread(target=lambda n=n: hogs.append(
            _speak(server, f"Hog {n} holds the engine.", sleep_ms=1500)))
        for n in range(4)  # one running and three queued: the queue is full
    ]
    for thread in threads:
        thread.start()
    _wait_queue_full(server, queued=3)
    refused = _speak(server, "Nothing like this was said before.")
    cached = _speak(server, "Served from the cache under load.")
    for thread in threads:
        thread.join()
    assert refused.status_code == 503, refused.text
    assert cached.status_code == 200 and cached.content == warm.content
    assert [r.status_code for r in hogs] == [200] * 4


def test_deadline_before_first_audio_is_504(server: Server) -> None:
    response = _speak(server, "This takes too long.", headers={"X-Voxserve-Timeout": "0.2"},
                      sleep_ms=2000)
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "deadline_exceeded"
    bad = _speak(server, "Hi.", headers={"X-Voxserve-Timeout": "soon"})
    assert bad.status_code == 400
    bad_priority = _speak(server, "Hi.", headers={"X-Voxserve-Priority": "urgent"})
    assert bad_priority.status_code == 400


def test_metrics_are_exposed(server: Server) -> None:
    _speak(server, "Make some metrics.")
    _speak(server, "Please fail here.", fail_on="fail")
    text = httpx.get(f"{server.url}/metrics").text
    for name in (
        "voxserve_http_requests_total", "voxserve_http_request_duration_seconds",
        "voxserve_time_to_first_audio_seconds", "voxserve_queue_wait_seconds",
        "voxserve_queue_depth", "voxserve_in_flight_segments", "voxserve_audio_seconds_total",
        "voxserve_real_time_factor", "voxserve_batch_size", "voxserve_engine_errors_total",
        "voxserve_engine_busy_seconds_total", "voxserve_engine_cpu_seconds_total",
    ):
        assert f"\n{name}" in text, name
    assert 'route="/v1/audio/speech"' in text
    assert 'voxserve_queue_depth{engine="fake",priority="batch"}' in text
    assert 'voxserve_engine_errors_total{engine="fake"} 1.0' in text


def test_sigterm_drains_in_flight_requests(tmp_path: Path) -> None:
    server = _start(tmp_path, VOXSERVE_SHUTDOWN_DRAIN_S="20")
    try:
        sentences = [f"Sentence {n} of the long one." for n in range(8)]
        received: list[bytes] = []
        first_bytes = threading.Event()

        def long_request() -> None:
            with httpx.stream("POST", f"{server.url}/v1/audio/speech", timeout=60, json={
                "input": " ".join(sentences), "response_format": "pcm",
                "options": {"sleep_ms": 250},
            }) as response:
                for piece in response.iter_raw():
                    received.append(piece)
                    first_bytes.set()

        thread = threading.Thread(target=long_request)
        thread.start()
        assert first_bytes.wait(30)
        server.process.send_signal(signal.SIGTERM)
        ready = httpx.get(f"{server.url}/readyz", timeout=5)
        assert ready.status_code == 503 and ready.json()["status"] == "draining"
        refused = _speak(server, "Too late.")
        assert refused.status_code == 503
        assert refused.json()["error"]["code"] == "shutting_down"
        thread.join(30)
        # uvicorn re-raises the signal after its graceful shutdown, as supervisors expect.
        assert server.process.wait(30) == -signal.SIGTERM
        assert any(line.get("msg") == "drained" for line in server.log_lines())
        audio = pcm_to_float(b"".join(received))
        expected = sum(len(tone_for(s)) for s in sentences)  # every sentence, not cut off
        assert len(audio) >= expected
    finally:
        _stop(server)
