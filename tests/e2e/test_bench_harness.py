"""``bench/harness.py``'s ``Server``: a real ``voxserve serve``, as every benchmark starts it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests.bench_tools import bench_module

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def harness() -> Iterator[ModuleType]:
    with bench_module("harness") as module:
        yield module


def test_server_starts_serves_and_stops(harness: ModuleType, tmp_path: Path) -> None:
    with harness.Server(tmp_path / "data", {"VOXSERVE_CACHE_URL": "memory"},
                        log_path=tmp_path / "server.log") as server:
        assert server.wait_ready() > 0
        assert server.request("GET", "/readyz")[0] == 200
        body = json.dumps({"input": "Hello there.", "response_format": "pcm"}).encode()
        conn = server.connect()
        try:
            first = harness.timed_post(conn, body)
            again = harness.timed_post(conn, body)  # kept alive; answered from the cache
        finally:
            conn.close()
        assert first.size == again.size > 10_000
        assert 0 < first.ttfb_s <= first.latency_s
        assert harness.metric_sum(server.port, "voxserve_cache_hits_total") >= 1
        assert server.cpu_s() > 0
    assert server.process.poll() is not None
