"""What the benchmarks in ``bench/`` share: the workload, a ``voxserve serve`` process, timing.

The scripts import this as ``harness``: ``python bench/<script>.py`` puts ``bench/`` first on
``sys.path``. Nothing here imports voxserve, so a script pays only for what it uses itself.

- workload: :data:`SENTENCES_FILE`, :func:`load_sentences`
- processes: :class:`Server` (``voxserve serve`` on a free loopback port, its own data
  directory and log file), :class:`PiperHttpServer` (Piper's own Flask server),
  :func:`start_voxserve` (any ``voxserve`` command, e.g. ``worker``),
  :func:`stop_process`, :func:`process_cpu_s`, :func:`tail`, :func:`free_port`
- HTTP: :func:`timed_post` (a streamed speech request: time to first byte, latency, size),
  :func:`metric_sum` (one sample summed off a Prometheus ``/metrics`` page)
- load: :func:`run_concurrently` (threads taking texts from one list)
- statistics: three percentile definitions, kept apart because each script reports its own:
  :func:`percentile` (interpolated), :func:`percentile_nearest_rank`,
  :func:`percentile_nearest_index`
"""

from __future__ import annotations

import http.client
import itertools
import json
import math
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Generic, NamedTuple, Self, TypeVar

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
#: The workload of every benchmark: Harvard sentences, one a line.
SENTENCES_FILE = BENCH_DIR / "data" / "harvard-dev.txt"
LOOPBACK = "127.0.0.1"
SPEECH_PATH = "/v1/audio/speech"
JSON_HEADERS: Mapping[str, str] = {"Content-Type": "application/json"}
#: How much of a streamed body one ``read1`` call may return.
READ_SIZE = 64 * 1024

T = TypeVar("T")


# --- workload and statistics -------------------------------------------------------------------


def load_sentences(path: Path = SENTENCES_FILE) -> list[str]:
    """The non-empty lines of ``path``, stripped."""
    return [line.strip() for line in path.read_text("utf-8").splitlines() if line.strip()]


def percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between the closest ranks (numpy's default); NaN for no values."""
    return float(np.percentile(values, q)) if len(values) else float("nan")


def percentile_nearest_rank(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile: the ceil(q% x n)-th smallest value (``q`` in 0...100)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def percentile_nearest_index(values: Sequence[float], q: float) -> float:
    """The value at index round(q% x (n - 1)) of the sorted values (``q`` in 0...100)."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


class ConcurrentRun(NamedTuple, Generic[T]):
    """What :func:`run_concurrently` returns."""

    #: The workers' results, in the order they finished.
    results: list[T]
    wall_s: float
    #: CPU time of the worker threads themselves (``time.thread_time``), summed.
    thread_cpu_s: float


def run_concurrently(
    workers: Sequence[Callable[[str], T]], texts: Sequence[str]
) -> ConcurrentRun[T]:
    """Each worker (one thread) takes the next text until none is left.

    The first exception a worker raises is raised here, once every thread has ended.
    """
    next_index = itertools.count()
    results: list[T] = []
    errors: list[BaseException] = []
    thread_cpu_s: list[float] = []
    lock = threading.Lock()

    def loop(worker: Callable[[str], T]) -> None:
        cpu = time.thread_time()
        try:
            while (index := next(next_index)) < len(texts):
                result = worker(texts[index])
                with lock:
                    results.append(result)
        except BaseException as exc:
            errors.append(exc)
        finally:
            thread_cpu_s.append(time.thread_time() - cpu)

    threads = [threading.Thread(target=loop, args=(w,), daemon=True) for w in workers]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    if errors:
        raise errors[0]
    return ConcurrentRun(results, wall, sum(thread_cpu_s))


# --- processes ---------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port free on the loopback interface right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def process_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of a process (all its threads), from /proc; None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tail(path: Path, chars: int = 4000) -> str:
    """The last ``chars`` characters of a log file ("" when it cannot be read)."""
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


def start_voxserve(
    args: Sequence[str], *, env: Mapping[str, str], log_path: Path,
    cpus: set[int] | None = None,
) -> subprocess.Popen[bytes]:
    """Run ``voxserve <args>`` with this Python, this environment plus ``env``.

    Its stdout and stderr are appended to ``log_path``; with ``cpus`` it runs on those CPUs
    only (Linux CPU affinity).
    """
    pin = None if cpus is None else (lambda: os.sched_setaffinity(0, cpus))
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "voxserve", *args], env={**os.environ, **env},
            stdout=log, stderr=subprocess.STDOUT, preexec_fn=pin,
        )


def stop_process(process: subprocess.Popen[bytes], timeout_s: float = 30.0) -> None:
    """SIGTERM (a voxserve process drains, then exits), SIGKILL after ``timeout_s``."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class Server:
    """A ``voxserve serve`` subprocess on a free loopback port.

    The process starts at construction, with this environment plus ``VOXSERVE_DATA_DIR`` =
    ``data_dir`` (created if missing), ``VOXSERVE_LOG_LEVEL=warning`` and then ``env``; its
    output goes to ``log_path``. Servers built one after another start in parallel:
    :meth:`wait_ready` then waits for each. Use it as a context manager, or call
    :meth:`stop`.
    """

    def __init__(
        self, data_dir: Path, env: Mapping[str, str] | None = None, *, log_path: Path,
        cpus: set[int] | None = None,
    ) -> None:
        self.port = free_port()
        self.data_dir = data_dir
        self.log_path = log_path
        data_dir.mkdir(parents=True, exist_ok=True)
        self.process = start_voxserve(
            ["serve", "--host", LOOPBACK, "--port", str(self.port)],
            env={"VOXSERVE_DATA_DIR": str(data_dir), "VOXSERVE_LOG_LEVEL": "warning",
                 **(env or {})},
            log_path=log_path, cpus=cpus,
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def connect(self, timeout: float = 300.0) -> http.client.HTTPConnection:
        """A new connection (opened at its first request; the caller closes it)."""
        return http.client.HTTPConnection(LOOPBACK, self.port, timeout=timeout)

    def request(
        self, method: str, path: str, payload: object | None = None, *,
        headers: Mapping[str, str] | None = None, timeout: float = 30.0,
    ) -> tuple[int, bytes]:
        """One request on a connection of its own; ``payload`` is sent as JSON.

        Returns the status and the whole body.
        """
        connection = self.connect(timeout)
        try:
            body = None if payload is None else json.dumps(payload)
            sent = {**(JSON_HEADERS if payload is not None else {}), **(headers or {})}
            connection.request(method, path, body, sent)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def wait_ready(self, timeout_s: float = 180.0) -> float:
        """Poll ``GET /readyz`` until it answers 200; returns the seconds that took.

        Raises RuntimeError, with the end of the log, when the process exits or time is up.
        """
        start = time.perf_counter()
        while time.perf_counter() - start < timeout_s:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"server exited ({self.process.returncode}):\n{self.log_tail()}"
                )
            try:
                if self.request("GET", "/readyz", timeout=10.0)[0] == 200:
                    return time.perf_counter() - start
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"server not ready after {timeout_s:.0f} s:\n{self.log_tail()}")

    def log_tail(self, chars: int = 4000) -> str:
        return tail(self.log_path, chars)

    def cpu_s(self) -> float:
        """CPU seconds the server process has used (0.0 where /proc cannot tell)."""
        return process_cpu_s(self.process.pid) or 0.0

    def stop(self) -> None:
        stop_process(self.process)


class PiperHttpServer:
    """Piper's own HTTP server (``python -m piper.http_server -m MODEL``; Flask, from the
    installed ``piper-tts``) on a free loopback port: ``POST /synthesize`` with
    ``{"text": ...}`` answers a WAV file of the whole text."""

    PATH = "/synthesize"

    def __init__(self, model: Path, *, log_path: Path) -> None:
        self.port = free_port()
        self.log_path = log_path
        with log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "piper.http_server", "-m", str(model),
                 "--host", LOOPBACK, "--port", str(self.port)],
                stdout=log, stderr=subprocess.STDOUT,
            )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        stop_process(self.process)

    def connect(self, timeout: float = 300.0) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(LOOPBACK, self.port, timeout=timeout)

    @staticmethod
    def body(text: str) -> bytes:
        return json.dumps({"text": text}).encode()

    def wait_ready(self, timeout_s: float = 120.0) -> float:
        """Until one synthesis answers 200; the seconds that took."""
        start = time.perf_counter()
        while time.perf_counter() - start < timeout_s:
            if self.process.poll() is not None:
                raise RuntimeError(f"piper server exited:\n{tail(self.log_path)}")
            connection = self.connect(10.0)
            try:
                timed_post(connection, self.body("Ready."), path=self.PATH)
                return time.perf_counter() - start
            except (OSError, RuntimeError):
                time.sleep(0.2)
            finally:
                connection.close()
        raise RuntimeError(f"piper server not ready:\n{tail(self.log_path)}")

    def cpu_s(self) -> float:
        return process_cpu_s(self.process.pid) or 0.0


# --- HTTP --------------------------------------------------------------------------------------


class Timing(NamedTuple):
    """One streamed response, timed from just before the request was sent."""

    #: Time to the first body bytes (the latency when the body is empty).
    ttfb_s: float
    #: Time to the end of the body.
    latency_s: float
    size: int


def timed_post(
    conn: http.client.HTTPConnection, body: bytes, headers: Mapping[str, str] = JSON_HEADERS,
    path: str = SPEECH_PATH,
) -> Timing:
    """POST ``body`` on ``conn`` (kept alive) and read the body as it streams.

    Raises RuntimeError for any status but 200.
    """
    start = time.perf_counter()
    conn.request("POST", path, body=body, headers=dict(headers))
    response = conn.getresponse()
    if response.status != 200:
        raise RuntimeError(f"HTTP {response.status}: {response.read()[:500]!r}")
    ttfb = None
    received = 0
    while data := response.read1(READ_SIZE):
        if ttfb is None:
            ttfb = time.perf_counter() - start
        received += len(data)
    latency = time.perf_counter() - start
    return Timing(ttfb if ttfb is not None else latency, latency, received)


def metric_sum(port: int, sample: str, timeout: float = 10.0) -> float:
    """The values of every ``sample`` (e.g. ``voxserve_cache_hits_total``) on the Prometheus
    page at ``http://127.0.0.1:<port>/metrics``, summed (0 when there is none).

    Raises OSError when the page cannot be fetched.
    """
    from prometheus_client.parser import text_string_to_metric_families

    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
    try:
        connection.request("GET", "/metrics")
        text = connection.getresponse().read().decode()
    finally:
        connection.close()
    return sum(found.value for family in text_string_to_metric_families(text)
               for found in family.samples if found.name == sample)
