"""In-process API clients for tests: the whole app, used once its engines are loaded."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi.testclient import TestClient

from voxserve.api.app import create_app
from voxserve.settings import Settings


def wait_ready(client: TestClient, timeout_s: float = 60.0) -> None:
    """Poll ``/readyz`` until the engines are loaded (fails the test after ``timeout_s``)."""
    deadline = time.monotonic() + timeout_s
    while client.get("/readyz").status_code != 200:
        assert time.monotonic() < deadline, "engines did not load"
        time.sleep(0.05)


@contextmanager
def ready_client(settings: Settings, timeout_s: float = 60.0) -> Iterator[TestClient]:
    """A :class:`TestClient` of ``create_app(settings)`` (lifespan running), once ready."""
    with TestClient(create_app(settings)) as client:
        wait_ready(client, timeout_s)
        yield client
