"""Shared fixtures: settings with a throw-away data dir, loaded engines, a running server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from voxserve.engines.catalog import EngineCatalog
from voxserve.scheduler import Scheduler
from voxserve.service.speech import SpeechService
from voxserve.settings import Settings

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _no_voxserve_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests build their settings explicitly; a developer's VOXSERVE_* must not leak in."""
    for name in list(os.environ):
        if name.startswith("VOXSERVE_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("voxserve-data")


@pytest.fixture(scope="session")
def settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, engines=["piper", "fake"])


@pytest.fixture(scope="session")
def catalog(settings: Settings) -> Iterator[EngineCatalog]:
    """The real bundled Piper voice plus the fake engine, loaded once per test session."""
    loaded = EngineCatalog(settings)
    loaded.load()
    yield loaded
    loaded.close()


@asynccontextmanager
async def running_service(
    settings: Settings, catalog: EngineCatalog
) -> AsyncIterator[SpeechService]:
    """A speech service with its scheduler running on the current event loop."""
    scheduler = Scheduler(settings)
    scheduler.start(catalog.replicas())
    try:
        yield SpeechService(settings, catalog, scheduler)
    finally:
        await scheduler.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_ready(base_url: str, process: subprocess.Popen[bytes] | None, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            if httpx.get(f"{base_url}/readyz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{base_url} not ready after {timeout_s} s")


@pytest.fixture(scope="session")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real ``voxserve serve`` process with the bundled voice, on a free loopback port."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("server") / "server.log"
    env = {**os.environ, "VOXSERVE_DATA_DIR": str(tmp_path_factory.mktemp("server-data")),
           # the projects test's webhook receiver listens on loopback (refused otherwise)
           "VOXSERVE_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1"}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "voxserve", "serve", "--port", str(port)],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base_url, process, timeout_s=60)
        yield base_url
    except Exception:
        print(log_path.read_text(), file=sys.stderr)
        raise
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
