"""``voxserve models …`` against a running server: import, list, activate, roll back,
remove, errors; idle unload in the real server (it loads again on the next request)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_operations import Server, _start, _stop
from tests.models_tools import joe_version_dir

pytestmark = pytest.mark.e2e

VOXSERVE = [sys.executable, "-m", "voxserve"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = _start(tmp_path_factory.mktemp("models"), VOXSERVE_ENGINES="piper",
                     VOXSERVE_DEFAULT_MODEL="piper", VOXSERVE_ENGINE_REPLICAS="1",
                     VOXSERVE_MODEL_IDLE_UNLOAD_S="1.5")
    yield running
    _stop(running)


def _models(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*VOXSERVE, "models", "--server", server.url, *args],
                          capture_output=True, text=True, timeout=120)


def _voice_of(server: Server, voice: str) -> str:
    response = httpx.post(f"{server.url}/v1/audio/speech", timeout=60, json={
        "input": "Hello.", "voice": voice, "response_format": "wav"})
    assert response.status_code == 200, response.text
    return response.headers["x-voxserve-voice"]


def test_models_commands(server: Server, tmp_path: Path) -> None:
    source = joe_version_dir(tmp_path)
    first = _models(server, "import", str(source), "--model", "amy")
    assert first.returncode == 0, first.stderr
    assert "imported amy@1" in first.stdout
    assert _models(server, "import", str(source / "voice.onnx"), "--model", "amy").returncode == 0
    listed = _models(server, "list")  # (ready or not: idle unload is 1.5 s here)
    assert listed.returncode == 0 and "amy (piper, en_US, " in listed.stdout
    assert "  *  1 " in listed.stdout
    assert "en_US-joe-medium (piper, en_US, ready)" in listed.stdout
    assert "  *r bundled      loaded" in listed.stdout
    assert _voice_of(server, "amy") == "amy@1"
    assert _models(server, "activate", "amy@2").returncode == 0
    assert _voice_of(server, "amy") == "amy@2"
    rolled = _models(server, "rollback", "amy")
    assert rolled.returncode == 0 and "  *  1 " in rolled.stdout
    assert _voice_of(server, "amy") == "amy@1"
    refused = _models(server, "remove", "amy@1")
    assert refused.returncode == 1 and "active version" in refused.stderr
    assert "HTTP 409" in refused.stderr
    assert _models(server, "remove", "amy@2").returncode == 0
    missing = _models(server, "import", str(tmp_path / "nowhere"), "--engine", "piper")
    assert missing.returncode == 1 and "no such file" in missing.stderr
    assert _models(server, "load", "amy").returncode == 2  # not MODEL@VERSION
    unreachable = subprocess.run([*VOXSERVE, "models", "--server", "http://127.0.0.1:9",
                                  "list"], capture_output=True, text=True, timeout=60)
    assert unreachable.returncode == 1 and "cannot reach" in unreachable.stderr


def test_idle_unload_then_the_next_request_loads_it(server: Server, tmp_path: Path) -> None:
    source = joe_version_dir(tmp_path)
    assert _models(server, "import", str(source), "--model", "idle").returncode == 0
    assert _voice_of(server, "idle") == "idle@1"
    deadline = time.monotonic() + 20
    while "unloaded" not in _models(server, "list").stdout.split("idle (")[1]:
        assert time.monotonic() < deadline, "never unloaded"
        time.sleep(0.3)
    metrics = httpx.get(f"{server.url}/metrics", timeout=10).text
    assert 'voxserve_model_unloads_total{model="idle",reason="idle"}' in metrics
    assert _voice_of(server, "idle") == "idle@1"  # loaded again for this request
    assert 'voxserve_model_loads_total{model="idle",result="ok"} 2.0' in httpx.get(
        f"{server.url}/metrics", timeout=10).text
