"""``bench/harness.py``: what the benchmark scripts share (no server started here)."""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests.bench_tools import BENCH_DIR, bench_module


@pytest.fixture(scope="module")
def harness() -> Iterator[ModuleType]:
    with bench_module("harness") as module:
        yield module


def test_every_script_uses_the_harness() -> None:
    scripts = sorted(p for p in BENCH_DIR.glob("*.py") if p.name != "harness.py")
    assert scripts
    for script in scripts:
        assert "from harness import" in script.read_text(), script.name


def test_sentences_are_the_stripped_non_empty_lines(harness: ModuleType, tmp_path: Path) -> None:
    text = tmp_path / "s.txt"
    text.write_text(" one \n\n two\n   \n", "utf-8")
    assert harness.load_sentences(text) == ["one", "two"]
    sentences = harness.load_sentences()
    assert len(sentences) > 100 and all(s == s.strip() and s for s in sentences)


def test_percentile_interpolates(harness: ModuleType) -> None:
    percentile = harness.percentile
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([3.0, 1.0, 2.0], 100) == 3.0
    assert percentile([], 50) != percentile([], 50)  # NaN


def test_percentile_nearest_rank(harness: ModuleType) -> None:
    percentile = harness.percentile_nearest_rank  # the ceil(q% x n)-th smallest
    values = [40.0, 10.0, 30.0, 20.0]
    assert percentile(values, 25) == 10.0
    assert percentile(values, 26) == 20.0
    assert percentile(values, 0) == 10.0 and percentile(values, 100) == 40.0


def test_percentile_nearest_index(harness: ModuleType) -> None:
    percentile = harness.percentile_nearest_index
    values = [float(i) for i in range(10, 0, -1)]  # sorted: index round(q% x 9)
    assert percentile(values, 50) == 5.0  # round(4.5) == 4, half to even
    assert percentile(values, 95) == 10.0
    assert percentile(values, 0) == 1.0 and percentile(values, 100) == 10.0
    with pytest.raises(ValueError):
        percentile([], 50)


def test_run_concurrently_takes_every_text_once(harness: ModuleType) -> None:
    texts = [str(i) for i in range(20)]
    run = harness.run_concurrently([str.upper, str.upper, str.upper], texts)
    assert sorted(run.results, key=int) == texts
    assert run.wall_s > 0 and run.thread_cpu_s >= 0


def test_run_concurrently_raises_a_workers_error(harness: ModuleType) -> None:
    def fail(text: str) -> str:
        raise KeyError(text)

    with pytest.raises(KeyError):
        harness.run_concurrently([fail, fail], ["a", "b"])


def test_free_port_can_be_bound(harness: ModuleType) -> None:
    port = harness.free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_process_cpu_s(harness: ModuleType) -> None:
    own = harness.process_cpu_s(os.getpid())
    assert own is None or own > 0
    assert harness.process_cpu_s(2**31 - 1) is None


def test_start_voxserve_logs_and_stops(harness: ModuleType, tmp_path: Path) -> None:
    log = tmp_path / "voxserve.log"
    process = harness.start_voxserve(["--help"], env={}, log_path=log)
    assert process.wait(60) == 0
    assert "serve" in log.read_text()
    harness.stop_process(process)  # already ended: nothing to do


def test_server_that_exits_reports_its_log(
    harness: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[list[str]] = []

    def fake_voxserve(args: list[str], *, env: dict[str, str], log_path: Path,
                      cpus: set[int] | None = None) -> object:
        started.append(list(args))
        assert env["VOXSERVE_DATA_DIR"] == str(tmp_path / "data")
        assert env["VOXSERVE_CACHE_URL"] == "none"
        with log_path.open("ab") as log:
            return harness.subprocess.Popen(
                [sys.executable, "-c", "print('no voice here'); raise SystemExit(3)"],
                stdout=log, stderr=harness.subprocess.STDOUT,
            )

    monkeypatch.setattr(harness, "start_voxserve", fake_voxserve)
    server = harness.Server(tmp_path / "data", {"VOXSERVE_CACHE_URL": "none"},
                            log_path=tmp_path / "server.log")
    with server, pytest.raises(RuntimeError, match=r"(?s)exited \(3\).*no voice here"):
        server.wait_ready(timeout_s=60)
    assert started == [["serve", "--host", "127.0.0.1", "--port", str(server.port)]]
    assert (tmp_path / "data").is_dir()
