"""Document conversion benchmark (projects): engine rate, workers, interactive latency.

Measures, in one run, everything as a ratio to a figure taken in the same run (the test
machine is shared and noisy, so absolute rates from different runs do not compare):

1. **Raw engine rate**: in-process ``PiperEngine`` s laid out as the server lays them out
   (automatic replica count and threads per replica; on 2 cores two sessions of one thread)
   synthesizing the document's sentences, one thread per session, in audio-seconds per
   wall-second. Measured before and after each distributed conversion; each conversion is
   compared with the mean of the two measurements around it.
2. **Distributed conversion**: ``voxserve serve`` with RabbitMQ (a unique queue name),
   PostgreSQL (a throw-away schema), shared local storage and ``VOXSERVE_CACHE_URL=none``,
   plus one ``voxserve worker`` subprocess, then two. A Markdown text of ``--chapters``
   chapters of ``--sentences`` Harvard sentences is posted to ``/v1/projects`` and polled until
   ``completed``: audio seconds (the project's progress) per wall second (submission to
   completed), as a ratio to the raw rate. Target for one worker: >= 0.9.

   Two layouts. *shared*: everything on every CPU, so the worker also pays for the API
   server, PostgreSQL and RabbitMQ on the same cores. *dedicated*: one worker on CPUs of its
   own (all but the first; the API server and this client on the first), compared with the
   raw engine on those same CPUs: a worker machine of its own, as deployed ("workers on any
   machine"), emulated with CPU affinity. PostgreSQL and RabbitMQ keep every CPU.

   Wall-clock ratios carry the raw engine's own run-to-run noise (5-10 % here), so each
   conversion also reports a CPU-time ratio: the raw engine's CPU seconds per audio second
   times the project's audio, over the worker processes' CPU seconds during the conversion.
   It says what share of a worker's CPU goes to the engine's own work.

   Both ratios compare figures taken minutes apart, and this machine's speed drifts by
   5-15 % in minutes. So each conversion also reports figures the workers measure
   themselves, over the same seconds (their ``voxserve_engine_cpu_seconds_total``, scraped
   from the worker metrics port before and after): the **engine share** (engine CPU / worker
   CPU) and the **engine duty** (engine CPU / (wall time x the workers' CPUs)). The duty is
   the served rate over the rate the same engine reaches on those CPUs at that moment, as
   long as the engine costs as much CPU per audio second inside the worker as alone;
   ``engine CPU per audio-s vs raw`` checks that (noisy: it compares across minutes).
3. **Interactive latency during a conversion**: a default ``voxserve serve`` (in-process queue,
   SQLite; it converts at batch priority itself). p95 latency of one-sentence
   ``response_format: pcm`` speech requests from one sequential client, idle (before and after)
   and while the same text is converted. Target: loaded / idle <= 1.5.

    .venv/bin/python bench/conversion.py [--quick] [--chapters 8] [--sentences 25]
                                          [--requests 30] [--formats mp3,wav]
                                          [--layouts shared,dedicated] [--json out.json]

Clients use ``http.client`` (cheap on CPU, so the 2-core machine spends its time in the
server and workers). Nothing here is a test: it prints figures for the closing notes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness import (
    SPEECH_PATH,
    Server,
    free_port,
    load_sentences,
    metric_sum,
    percentile_nearest_index,
    process_cpu_s,
    start_voxserve,
    stop_process,
    tail,
)
from voxserve.engines.base import SynthesisParams
from voxserve.engines.piper import PiperEngine
from voxserve.settings import Settings

SENTENCES = load_sentences()
#: Interactive requests use sentences from the end of the file, the document the start.
INTERACTIVE_SENTENCES = SENTENCES[-60:]
DOCUMENT_POOL = SENTENCES[:-60]
VOICE_ID = "en_US-joe-medium"
AMQP_URL = os.environ.get("VOXSERVE_BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
POSTGRES_URL = os.environ.get(
    "VOXSERVE_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
#: How often the benchmark asks for progress (each poll costs the server ~8 ms of CPU,
#: taken from the conversion on a 2-core machine; a UI or client polls about this often).
POLL_S = 0.5
CONVERSION_TIMEOUT_S = 900.0


# --- results ----------------------------------------------------------------------------------


@dataclass
class RawRate:
    label: str
    sentences: int
    audio_s: float
    wall_s: float
    #: CPU time of the synthesizing threads (user + system)
    cpu_s: float = 0.0

    @property
    def rate(self) -> float:
        return self.audio_s / self.wall_s

    @property
    def cpu_per_audio_s(self) -> float:
        return self.cpu_s / self.audio_s


@dataclass
class Conversion:
    label: str
    workers: int | None
    segments: int
    state: str
    audio_s: float
    wall_s: float
    #: ``finished_at - created_at`` as the server recorded them (no polling granularity).
    server_wall_s: float | None
    #: submission until all segments were first seen done (polling granularity ``POLL_S``);
    #: the rest of ``wall_s`` is assembling and encoding the output files
    segments_wall_s: float | None = None
    rate: float = 0.0
    #: raw engine rate this conversion is compared with: the mean of the raw measurements
    #: taken just before and just after it (the machine's speed drifts within minutes)
    raw_reference: float = 0.0
    raw_bracket: list[float] = field(default_factory=list)
    ratio_to_raw: float = 0.0
    #: the ratio against the faster and the slower bracketing raw measurement: its noise span
    ratio_range: list[float] = field(default_factory=list)
    server_ratio_to_raw: float | None = None
    #: 1-minute load average when it completed (context only; includes our own processes)
    loadavg_end: float = 0.0
    #: CPU time (user + system) of the worker processes during the conversion (Linux)
    worker_cpu_s: float | None = None
    #: raw engine CPU for this much audio / ``worker_cpu_s``: the share of the workers' CPU
    #: that the engine's own work needs (less noisy than wall-clock rates; excludes the API
    #: server, PostgreSQL and RabbitMQ)
    cpu_ratio: float | None = None
    #: CPU seconds the workers' engine replicas spent synthesizing (their own metric)
    engine_cpu_s: float | None = None
    #: ``engine_cpu_s / worker_cpu_s``: the share of the workers' CPU that went to synthesis
    engine_share: float | None = None
    #: ``engine_cpu_s / (server_wall_s x worker CPUs)``: served rate / the engine's rate on
    #: those CPUs over the same seconds (drift-free; see the module doc)
    engine_duty: float | None = None
    #: the workers' engine CPU per audio second / the raw engine's (1.0: same cost)
    engine_cost_vs_raw: float | None = None
    #: "shared": server, workers, PostgreSQL and RabbitMQ on every CPU; "dedicated": the
    #: workers (and the raw engine compared with them) on CPUs of their own
    layout: str = "shared"

    def compare(self, raw_rates: Sequence[float]) -> None:
        self.raw_bracket = [round(r, 3) for r in raw_rates]
        self.raw_reference = round(sum(raw_rates) / len(raw_rates), 3)
        self.ratio_to_raw = round(self.rate / self.raw_reference, 3)
        self.ratio_range = [round(self.rate / max(raw_rates), 3),
                            round(self.rate / min(raw_rates), 3)]
        self.server_ratio_to_raw = (
            round(self.audio_s / self.server_wall_s / self.raw_reference, 3)
            if self.server_wall_s else None)


@dataclass
class Latency:
    label: str
    count: int
    p50_ms: float | None
    p95_ms: float | None
    max_ms: float | None
    errors: int


@dataclass
class InteractiveResult:
    idle_before: Latency
    idle_after: Latency
    idle: Latency
    loaded: Latency
    ratio_p95: float | None
    conversion: Conversion | None


@dataclass
class Report:
    config: dict[str, Any]
    environment: dict[str, Any]
    raw: list[RawRate] = field(default_factory=list)
    raw_rate: float = 0.0
    distributed: list[Conversion] = field(default_factory=list)
    distributed_skipped: str | None = None
    #: the raw engine and one worker on the dedicated CPUs (see :func:`dedicated_cpus`)
    raw_dedicated: list[RawRate] = field(default_factory=list)
    dedicated: list[Conversion] = field(default_factory=list)
    dedicated_skipped: str | None = None
    two_over_one_workers: float | None = None
    interactive: InteractiveResult | None = None
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["raw"] = [{**asdict(r), "rate": r.rate} for r in self.raw]
        data["raw_dedicated"] = [{**asdict(r), "rate": r.rate} for r in self.raw_dedicated]
        return data


# --- helpers ----------------------------------------------------------------------------------


def _percentile_ms(values: Sequence[float], q: float) -> float | None:
    return round(percentile_nearest_index(values, q) * 1000, 1) if values else None


def _latency(label: str, values: Sequence[float], errors: int) -> Latency:
    return Latency(label, len(values), _percentile_ms(values, 50), _percentile_ms(values, 95),
                   _percentile_ms(values, 100), errors)


def _load() -> float:
    return os.getloadavg()[0]


def build_document(chapters: int, sentences: int) -> tuple[str, list[str]]:
    """Markdown with ``chapters`` headings of ``sentences`` sentences; and the sentences."""
    used: list[str] = []
    parts = []
    for chapter in range(chapters):
        lines = [DOCUMENT_POOL[(chapter * sentences + n) % len(DOCUMENT_POOL)]
                 for n in range(sentences)]
        used.extend(lines)
        # paragraphs of five sentences, as a book would have
        paragraphs = [" ".join(lines[i:i + 5]) for i in range(0, len(lines), 5)]
        parts.append(f"# Chapter {chapter + 1}\n\n" + "\n\n".join(paragraphs))
    return "\n\n".join(parts) + "\n", used


def _workers_cpu_s(workers: Sequence[subprocess.Popen[bytes]]) -> float | None:
    readings = [process_cpu_s(worker.pid) for worker in workers]
    return None if None in readings else sum(r for r in readings if r is not None)


def _engine_cpu_s(ports: Sequence[int]) -> float | None:
    """The workers' ``voxserve_engine_cpu_seconds_total`` summed (None if one is unreadable)."""
    try:
        return sum(metric_sum(port, "voxserve_engine_cpu_seconds_total") for port in ports)
    except OSError:
        return None


@contextlib.contextmanager
def _affinity(cpus: set[int] | None) -> Iterator[None]:
    """Run the calling thread (and threads it starts) on ``cpus`` for the block."""
    if cpus is None:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def dedicated_cpus() -> tuple[set[int], set[int]] | None:
    """(services' CPUs, the worker's CPUs) for the dedicated layout: the first CPU for the
    API server and this client, the others for the worker and the raw engine it is
    compared with (a worker machine of its own). None on a single-CPU machine."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None
    return {cpus[0]}, set(cpus[1:])


# --- 1. raw engine ----------------------------------------------------------------------------


class RawEngine:
    """The engine as the server lays it out, driven directly: ``replicas`` Piper sessions
    (the server's automatic count and threads per session), one thread each, taking the
    document's sentences in order from a shared list. No HTTP, queue, database or files:
    the best this machine does with this engine, which is what a worker is compared with.
    """

    def __init__(self, data_dir: Path, cpus: set[int] | None = None) -> None:
        #: CPUs the engine threads run on (None: all); the layout follows them as the
        #: server's does (it counts the CPUs of its affinity mask)
        self.cpus = cpus
        with _affinity(cpus):
            settings = Settings(data_dir=data_dir, cache_url="none")
            self.replicas = settings.replicas_for("piper")
            self.threads_per_replica = settings.resolved_piper_intra_op_threads
            self.engines = [PiperEngine(settings) for _ in range(self.replicas)]
            for engine in self.engines:
                engine.load()
        self.params = SynthesisParams()

    def measure(self, label: str, sentences: Sequence[str]) -> RawRate:
        pending = list(enumerate(sentences))
        lock = threading.Lock()
        audio_s = [0.0] * len(self.engines)
        cpu_s = [0.0] * len(self.engines)

        def run(slot: int) -> None:
            if self.cpus is not None:
                os.sched_setaffinity(0, self.cpus)  # this thread only
            engine = self.engines[slot]
            cpu_start = time.thread_time()
            try:
                while True:
                    with lock:
                        if not pending:
                            return
                        _, text = pending.pop(0)
                    for chunk in engine.synthesize(text, VOICE_ID, self.params):
                        audio_s[slot] += len(chunk.samples) / chunk.sample_rate_hz
            finally:
                cpu_s[slot] = time.thread_time() - cpu_start

        started = time.perf_counter()
        threads = [threading.Thread(target=run, args=(slot,)) for slot in range(len(self.engines))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return RawRate(label, len(sentences), sum(audio_s), time.perf_counter() - started,
                       sum(cpu_s))

    def close(self) -> None:
        for engine in self.engines:
            engine.close()


# --- server, workers, HTTP ----------------------------------------------------------------------


def speak(server: Server, text: str) -> tuple[int, float]:
    """One-sentence pcm speech request: (status, latency_s)."""
    started = time.perf_counter()
    status, _ = server.request("POST", SPEECH_PATH, {"input": text, "response_format": "pcm"},
                               timeout=120)
    return status, time.perf_counter() - started


def submit(server: Server, text: str, audio_format: str | None = None) -> str:
    """Post a Markdown project; returns its id."""
    body_json: dict[str, Any] = {"text": text, "markdown": True}
    if audio_format:
        body_json["response_format"] = audio_format
    status, body = server.request("POST", "/v1/projects", body_json, timeout=120)
    if status not in (200, 201, 202):
        raise RuntimeError(f"POST /v1/projects: {status} {body[:500]!r}")
    project_id: str = json.loads(body)["id"]
    return project_id


def project(server: Server, project_id: str) -> dict[str, Any]:
    status, body = server.request("GET", f"/v1/projects/{project_id}")
    if status != 200:
        raise RuntimeError(f"GET /v1/projects/{project_id}: {status} {body[:500]!r}")
    data: dict[str, Any] = json.loads(body)
    return data


def start_worker(data_dir: Path, env: dict[str, str], log: Path, metrics_port: int,
                 cpus: set[int] | None = None) -> subprocess.Popen[bytes]:
    """A ``voxserve worker`` with its metrics on ``metrics_port``, returned once it consumes
    (its engine is loaded and warm)."""
    start = log.stat().st_size if log.exists() else 0
    process = start_voxserve(
        ["worker"],
        env={"VOXSERVE_DATA_DIR": str(data_dir), "VOXSERVE_CACHE_URL": "none",
             "VOXSERVE_WORKER_METRICS_PORT": str(metrics_port), "VOXSERVE_LOG_LEVEL": "info",
             **env},
        log_path=log, cpus=cpus,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        with log.open("rb") as handle:
            handle.seek(start)
            if b"worker consuming" in handle.read():
                return process
        time.sleep(0.2)
    stop_process(process)
    raise RuntimeError(f"worker did not start consuming:\n{tail(log)}")


def run_conversion(server: Server, text: str, label: str, workers: int | None,
                   raw_rate: float, done: threading.Event | None = None,
                   audio_format: str | None = None) -> Conversion:
    started = time.perf_counter()
    project_id = submit(server, text, audio_format)
    deadline = time.monotonic() + CONVERSION_TIMEOUT_S
    segments_wall_s: float | None = None
    while True:
        data = project(server, project_id)
        progress = data.get("progress") or {}
        if (segments_wall_s is None and progress.get("segments_total")
                and progress.get("segments_done") == progress.get("segments_total")):
            segments_wall_s = time.perf_counter() - started
        if data["state"] in ("completed", "failed", "cancelled"):
            wall_s = time.perf_counter() - started
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"{label}: not completed after {CONVERSION_TIMEOUT_S} s: {data}")
        time.sleep(POLL_S)
    if done is not None:
        done.set()
    if data["state"] != "completed":
        raise RuntimeError(f"{label}: project {data['state']}: {data.get('error')}")
    progress = data.get("progress") or {}
    audio_s = float(progress.get("audio_seconds") or sum(
        c["audio_seconds"] for c in progress.get("chapters", [])))
    server_wall_s = None
    if data.get("finished_at"):
        from datetime import datetime

        server_wall_s = (datetime.fromisoformat(data["finished_at"])
                         - datetime.fromisoformat(data["created_at"])).total_seconds()
    rate = audio_s / wall_s
    conversion = Conversion(
        label=label, workers=workers, segments=int(data["segments"]), state=data["state"],
        audio_s=round(audio_s, 3), wall_s=round(wall_s, 3),
        segments_wall_s=round(segments_wall_s or wall_s, 3),
        server_wall_s=round(server_wall_s, 3) if server_wall_s else None,
        rate=round(rate, 3), loadavg_end=round(_load(), 2),
    )
    conversion.compare([raw_rate])
    return conversion


# --- 2. distributed ---------------------------------------------------------------------------


def _services_reachable() -> str | None:
    """None when RabbitMQ and PostgreSQL answer, else why not."""
    import aio_pika
    from sqlalchemy import create_engine, text

    async def amqp() -> None:
        connection = await aio_pika.connect(AMQP_URL, timeout=3)
        await connection.close()

    try:
        asyncio.run(amqp())
    except Exception as exc:
        return f"RabbitMQ at {AMQP_URL} not reachable: {exc}"
    engine = create_engine(POSTGRES_URL)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:
        return f"PostgreSQL at {POSTGRES_URL} not reachable: {exc}"
    finally:
        engine.dispose()
    return None


def _admin_sql(statement: str) -> None:
    """Run one statement on PostgreSQL outside a transaction (schemas come and go)."""
    from sqlalchemy import create_engine, text

    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(statement))
    finally:
        admin.dispose()


def _delete_queues(name: str) -> None:
    import aio_pika

    async def cleanup() -> None:
        connection = await aio_pika.connect(AMQP_URL, timeout=5)
        try:
            channel = await connection.channel()
            for suffix in ("", ".retry", ".dead"):
                await channel.queue_delete(name + suffix)
        finally:
            await connection.close()

    asyncio.run(cleanup())


def run_distributed(text: str, raw: RawEngine, sentences: Sequence[str], raws: list[RawRate],
                    workdir: Path, max_workers: int, formats: Sequence[str], *,
                    layout: str = "shared", server_cpus: set[int] | None = None,
                    worker_cpus: set[int] | None = None) -> list[Conversion]:
    """Conversions with 1..max_workers workers, each bracketed by raw engine measurements.

    ``raws`` holds the measurement taken before the first conversion; one more is appended
    after each conversion (workers idle then), and each conversion is compared with the mean
    of the measurements on either side of it. ``server_cpus``/``worker_cpus`` pin the API
    server and the workers (the dedicated layout); ``raw`` must then run on ``worker_cpus``.
    """
    tag = uuid.uuid4().hex[:10]
    schema = f"voxserve_bench_{tag}"
    queue_name = f"voxserve-bench-{tag}"
    data_dir = workdir / f"distributed-{layout}"
    data_dir.mkdir()
    env = {
        "VOXSERVE_QUEUE_URL": AMQP_URL, "VOXSERVE_QUEUE_NAME": queue_name,
        "VOXSERVE_DATABASE_URL": f"{POSTGRES_URL}?options=-csearch_path%3D{schema}",
    }
    where = f" on CPU {','.join(map(str, sorted(worker_cpus)))}" if worker_cpus else ""
    _admin_sql(f'CREATE SCHEMA "{schema}"')
    server: Server | None = None
    workers: list[subprocess.Popen[bytes]] = []
    metrics_ports: list[int] = []
    results: list[Conversion] = []
    worker_cpu_count = len(worker_cpus or os.sched_getaffinity(0))
    try:
        server = Server(data_dir, {"VOXSERVE_CACHE_URL": "none", **env},
                        log_path=workdir / f"distributed-{layout}-server.log", cpus=server_cpus)
        server.wait_ready()
        for count in range(1, max_workers + 1):
            while len(workers) < count:  # the earlier workers stay (warm); add one
                metrics_ports.append(free_port())
                workers.append(start_worker(data_dir, env, workdir / f"workers-{layout}.log",
                                            metrics_ports[-1], worker_cpus))
            time.sleep(1.0)  # let start-up settle before the clock starts
            for audio_format in formats:
                label = f"{count} worker{'s' if count > 1 else ''}{where}, {audio_format}"
                print(f"  converting with {label} …", flush=True)
                cpu_before = _workers_cpu_s(workers)
                engine_before = _engine_cpu_s(metrics_ports)
                result = run_conversion(server, text, label, count, raws[-1].rate,
                                        audio_format=audio_format)
                cpu_after = _workers_cpu_s(workers)
                engine_after = _engine_cpu_s(metrics_ports)
                result.layout = layout
                raws.append(raw.measure(f"raw after {label}", sentences))
                result.compare([raws[-2].rate, raws[-1].rate])
                if cpu_before is not None and cpu_after is not None and cpu_after > cpu_before:
                    result.worker_cpu_s = round(cpu_after - cpu_before, 2)
                    raw_cpu = (raws[-2].cpu_per_audio_s + raws[-1].cpu_per_audio_s) / 2
                    result.cpu_ratio = round(raw_cpu * result.audio_s / result.worker_cpu_s, 3)
                    if engine_before is not None and engine_after is not None:
                        _engine_figures(result, engine_after - engine_before, raw_cpu,
                                        worker_cpu_count)
                results.append(result)
                print(f"    {_conversion_line(result)}", flush=True)
                print(f"    raw engine again: {raws[-1].rate:.2f} audio-s/s", flush=True)
    finally:
        for worker in workers:
            stop_process(worker)
        if server is not None:
            server.stop()
        try:
            _delete_queues(queue_name)
        except Exception as exc:  # cleanup only
            print(f"  (queue cleanup failed: {exc})", flush=True)
        _admin_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    return results


def _engine_figures(result: Conversion, engine_cpu_s: float, raw_cpu_per_audio_s: float,
                    worker_cpu_count: int) -> None:
    """The workers' own engine figures for ``result`` (see the module doc)."""
    result.engine_cpu_s = round(engine_cpu_s, 2)
    if result.worker_cpu_s:
        result.engine_share = round(engine_cpu_s / result.worker_cpu_s, 3)
    wall_s = result.server_wall_s or result.wall_s
    result.engine_duty = round(engine_cpu_s / (wall_s * worker_cpu_count), 3)
    if result.audio_s and raw_cpu_per_audio_s:
        result.engine_cost_vs_raw = round(engine_cpu_s / result.audio_s / raw_cpu_per_audio_s,
                                          3)


# --- 3. interactive latency -------------------------------------------------------------------


def run_interactive(text: str, raw_rate: float, workdir: Path, requests: int) -> InteractiveResult:
    data_dir = workdir / "inprocess"
    data_dir.mkdir()
    server = Server(data_dir, {"VOXSERVE_CACHE_URL": "none"},
                    log_path=workdir / "inprocess-server.log")
    counter = 0

    def next_sentence() -> str:
        nonlocal counter
        counter += 1
        return INTERACTIVE_SENTENCES[counter % len(INTERACTIVE_SENTENCES)]

    idle_values: list[float] = []

    def idle_block(label: str) -> Latency:
        values: list[float] = []
        errors = 0
        for _ in range(requests):
            status, latency = speak(server, next_sentence())
            if status == 200:
                values.append(latency)
            else:
                errors += 1
        idle_values.extend(values)
        return _latency(label, values, errors)

    try:
        server.wait_ready()
        for _ in range(3):  # warm-up: connections, first-request paths
            speak(server, next_sentence())
        before = idle_block("idle before")
        done = threading.Event()
        outcome: dict[str, Conversion | BaseException] = {}

        def convert() -> None:
            try:
                outcome["result"] = run_conversion(server, text, "in-process (serve)", None,
                                                   raw_rate, done)
            except BaseException as exc:  # reported below
                outcome["result"] = exc
                done.set()

        thread = threading.Thread(target=convert, daemon=True)
        thread.start()
        time.sleep(0.5)  # the project is parsed and its segments queued
        loaded_values: list[float] = []
        loaded_errors = 0
        while not done.is_set():
            status, latency = speak(server, next_sentence())
            if done.is_set():
                break  # the conversion ended during this request: not a loaded sample
            if status == 200:
                loaded_values.append(latency)
            else:
                loaded_errors += 1
        thread.join()
        after = idle_block("idle after")
    finally:
        server.stop()
    result = outcome.get("result")
    if isinstance(result, BaseException):
        raise result
    # idle reference: both idle blocks pooled (they bracket the conversion in time)
    idle = _latency("idle (before + after)", idle_values, before.errors + after.errors)
    loaded = _latency("during conversion", loaded_values, loaded_errors)
    ratio = (round(loaded.p95_ms / idle.p95_ms, 3)
             if loaded.p95_ms is not None and idle.p95_ms else None)
    return InteractiveResult(before, after, idle, loaded, ratio,
                             result if isinstance(result, Conversion) else None)


# --- output -----------------------------------------------------------------------------------


def run_dedicated(report: Report, text: str, sentences: Sequence[str], workdir: Path,
                  formats: Sequence[str]) -> None:
    """One worker on CPUs of its own (a worker machine), the API server and this client on
    the first CPU; compared with the raw engine on the worker's CPUs. PostgreSQL and
    RabbitMQ keep every CPU (they are the machine's services)."""
    layout = dedicated_cpus()
    if layout is None:
        report.dedicated_skipped = "one CPU: nothing to dedicate"
        return
    server_cpus, worker_cpus = layout
    print(f"2b. one worker on CPU {','.join(map(str, sorted(worker_cpus)))} of its own "
          f"(API server and client on CPU {','.join(map(str, sorted(server_cpus)))})",
          flush=True)
    raw = RawEngine(workdir / "raw-dedicated", worker_cpus)
    report.config["dedicated_raw_replicas"] = raw.replicas
    try:
        raw.measure("warm-up", sentences[:3])
        report.raw_dedicated.append(raw.measure("raw first, dedicated", sentences))
        print(f"  raw engine there ({raw.replicas} replica(s) x {raw.threads_per_replica} "
              f"thread(s)): {report.raw_dedicated[-1].rate:.2f} audio-s/s", flush=True)
        report.dedicated = run_distributed(
            text, raw, sentences, report.raw_dedicated, workdir, 1, formats,
            layout="dedicated", server_cpus=server_cpus, worker_cpus=worker_cpus)
    finally:
        raw.close()


def _headline(c: Conversion) -> float:
    """The ratio to report: server-timed (created to completed, no polling granularity)."""
    return c.server_ratio_to_raw if c.server_ratio_to_raw is not None else c.ratio_to_raw


def _first_format(conversions: Sequence[Conversion], workers: int) -> Conversion | None:
    return next((c for c in conversions if c.workers == workers), None)


def _conversion_line(c: Conversion) -> str:
    server = (f", server-timed {c.server_wall_s:.1f} s -> {c.server_ratio_to_raw:.2f}x raw"
              if c.server_wall_s and c.server_ratio_to_raw is not None else "")
    finish = (f", files {c.wall_s - c.segments_wall_s:.1f} s after the last segment "
              f"(segments alone {c.audio_s / c.segments_wall_s / c.raw_reference:.2f}x raw)"
              if c.segments_wall_s and c.raw_reference else "")
    span = (f" (range {c.ratio_range[0]:.2f}-{c.ratio_range[1]:.2f} over raw "
            f"{'/'.join(f'{r:.2f}' for r in c.raw_bracket)})" if len(c.raw_bracket) > 1 else "")
    cpu = (f"; worker CPU {c.worker_cpu_s:.1f} s, of which the engine's work is "
           f"{c.cpu_ratio:.2f}" if c.worker_cpu_s and c.cpu_ratio is not None else "")
    if c.engine_duty is not None:
        cpu += (f"; workers' own figures: engine share of their CPU {c.engine_share:.3f}, "
                f"engine duty {c.engine_duty:.3f}, engine CPU per audio-s vs raw "
                f"{c.engine_cost_vs_raw:.2f}")
    return (f"{c.label:>20}: {c.segments} segments, {c.audio_s:.1f} s audio in {c.wall_s:.1f} s "
            f"= {c.rate:.2f} audio-s/s = {c.ratio_to_raw:.2f}x raw{span}{server}{finish}{cpu} "
            f"(load avg at end {c.loadavg_end:.2f})")


def _latency_line(lat: Latency) -> str:
    return (f"{lat.label:>28}: n={lat.count:3d} p50 {lat.p50_ms} ms  p95 {lat.p95_ms} ms  "
            f"max {lat.max_ms} ms  errors {lat.errors}")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true",
                        help="small document and few requests (about 1.5 minutes)")
    parser.add_argument("--chapters", type=int, default=None, help="chapters (8; quick 3)")
    parser.add_argument("--sentences", type=int, default=None,
                        help="sentences per chapter (25; quick 5)")
    parser.add_argument("--requests", type=int, default=None,
                        help="interactive requests per idle block (30; quick 10)")
    parser.add_argument("--max-workers", type=int, default=2, help="worker counts 1..N (2)")
    parser.add_argument("--formats", default="mp3",
                        help="comma-separated project output formats for the distributed "
                             "part (mp3, the default, pays for encoding; wav does not)")
    parser.add_argument("--skip-distributed", action="store_true",
                        help="no RabbitMQ/PostgreSQL part")
    parser.add_argument("--layouts", default="shared,dedicated",
                        help="distributed layouts: shared (server, workers and services on "
                             "every CPU) and/or dedicated (one worker on CPUs of its own)")
    parser.add_argument("--skip-interactive", action="store_true",
                        help="no interactive-latency part")
    parser.add_argument("--json", type=Path, default=None, help="write every figure here")
    args = parser.parse_args(argv)
    args.chapters = args.chapters or (3 if args.quick else 8)
    args.sentences = args.sentences or (5 if args.quick else 25)
    args.requests = args.requests or (10 if args.quick else 30)
    args.formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    args.layouts = {v.strip() for v in args.layouts.split(",") if v.strip()}
    if not args.layouts <= {"shared", "dedicated"}:
        parser.error("--layouts: shared and/or dedicated")
    if min(args.chapters, args.sentences, args.requests, args.max_workers) < 1:
        parser.error("counts must be >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    text, sentences = build_document(args.chapters, args.sentences)
    started = time.monotonic()
    report = Report(
        config={"chapters": args.chapters, "sentences_per_chapter": args.sentences,
                "sentences": len(sentences), "requests_per_idle_block": args.requests,
                "max_workers": args.max_workers, "quick": args.quick, "voice": VOICE_ID,
                "formats": args.formats,
                "amqp_url": AMQP_URL, "postgres_url": POSTGRES_URL},
        environment={"cpus": os.cpu_count(), "python": platform.python_version(),
                     "loadavg_start": os.getloadavg()},
    )
    print(f"conversion benchmark: {args.chapters} chapters x {args.sentences} sentences "
          f"({len(sentences)} sentences, {len(text)} chars), {os.cpu_count()} CPUs, "
          f"load avg {_load():.2f}", flush=True)
    with tempfile.TemporaryDirectory(prefix="voxserve-conv-bench-") as tmp:
        workdir = Path(tmp)
        raw = RawEngine(workdir / "raw")
        report.config["raw_replicas"] = raw.replicas
        report.config["raw_threads_per_replica"] = raw.threads_per_replica
        try:
            raw.measure("warm-up", sentences[:3])
            report.raw.append(raw.measure("raw first", sentences))
            print(f"1. raw engine ({raw.replicas} replicas x {raw.threads_per_replica} "
                  f"thread(s)): {report.raw[-1].audio_s:.1f} s audio in "
                  f"{report.raw[-1].wall_s:.1f} s = {report.raw[-1].rate:.2f} audio-s/s",
                  flush=True)
            report.raw_rate = report.raw[-1].rate
            print("2. distributed conversion (serve + RabbitMQ + PostgreSQL + N workers)",
                  flush=True)
            skipped = "--skip-distributed" if args.skip_distributed else _services_reachable()
            if skipped:
                report.distributed_skipped = skipped
                print(f"  skipped: {skipped}", flush=True)
            else:
                if "shared" in args.layouts:
                    report.distributed = run_distributed(
                        text, raw, sentences, report.raw, workdir, args.max_workers,
                        args.formats)
                report.raw_rate = round(sum(r.rate for r in report.raw) / len(report.raw), 3)
                one, two = _first_format(report.distributed, 1), _first_format(
                    report.distributed, 2)
                if one is not None and two is not None:
                    # each normalized by its own raw bracket, so machine drift cancels
                    report.two_over_one_workers = round(
                        _headline(two) / _headline(one), 3)
        finally:
            raw.close()
        if not report.distributed_skipped and "dedicated" in args.layouts:
            run_dedicated(report, text, sentences, workdir, args.formats)
        if not args.skip_interactive:
            print("3. interactive latency, in-process server, idle vs during a conversion",
                  flush=True)
            report.interactive = run_interactive(text, report.raw_rate, workdir,
                                                 args.requests)
    report.environment["loadavg_end"] = os.getloadavg()
    report.environment["elapsed_s"] = round(time.monotonic() - started, 1)

    raw_audio = report.raw[0].audio_s
    print()
    print("=== results (ratios within this run) ===")
    print(f"raw engine rate (mean of {len(report.raw)}): {report.raw_rate:.2f} audio-s/s  "
          f"[{', '.join(f'{r.label} {r.rate:.2f}' for r in report.raw)}]; each conversion "
          "is compared with the raw runs just before and after it")
    if report.distributed_skipped:
        print(f"distributed: skipped ({report.distributed_skipped})")
    for c in report.distributed:
        print(_conversion_line(c))
        if abs(c.audio_s / raw_audio - 1) > 0.02:
            report.notes.append(f"{c.label}: project audio {c.audio_s:.1f} s differs from "
                                f"raw audio {raw_audio:.1f} s")
    if report.raw_dedicated:
        print(f"raw engine on the dedicated CPUs: "
              f"{', '.join(f'{r.label} {r.rate:.2f}' for r in report.raw_dedicated)}")
    for c in report.dedicated:
        print(_conversion_line(c))
    for c in [*report.distributed, *report.dedicated]:
        if c.workers == 1:
            ratio = _headline(c)
            verdict = "meets" if ratio >= 0.9 else "MISSES"
            cpu = (f"; by CPU time the engine's work is {c.cpu_ratio:.2f} of the worker's"
                   if c.cpu_ratio is not None else "")
            if c.engine_duty is not None:
                cpu += (f"; over the same seconds the engine ran {c.engine_duty:.3f} of the "
                        f"worker CPUs' time ({'meets' if c.engine_duty >= 0.9 else 'MISSES'})")
            print(f"one worker / raw ({c.label}, {c.layout}, server-timed) = {ratio:.2f} "
                  f"({verdict} target >= 0.9){cpu}")
    two = _first_format(report.distributed, 2)
    if report.two_over_one_workers is not None and two is not None:
        print(f"two workers / raw = {_headline(two):.2f}; "
              f"two workers / one worker = {report.two_over_one_workers:.2f} "
              f"(on {os.cpu_count()} cores both workers' onnxruntime sessions share the "
              "same cores: no gain expected from a second worker on one machine)")
    inter = report.interactive
    if inter is not None:
        for lat in (inter.idle_before, inter.idle_after, inter.idle, inter.loaded):
            print(_latency_line(lat))
        if inter.ratio_p95 is not None:
            verdict = "meets" if inter.ratio_p95 <= 1.5 else "MISSES"
            print(f"interactive p95 during conversion / idle = {inter.ratio_p95:.2f} "
                  f"({verdict} target <= 1.5)")
        segment_ms = (report.raw[0].wall_s * report.config["raw_replicas"]
                      / report.raw[0].sentences * 1000)
        print(f"  (one document segment takes {segment_ms:.0f} ms on the raw engine; Piper is "
              "not preemptible, so an interactive request arriving while a batch segment runs "
              "waits for it: loaded p50 ~ idle p50 + up to one segment)")
        if inter.conversion is not None:
            print(f"{_conversion_line(inter.conversion)} [with interactive requests "
                  "taking priority]")
        if inter.loaded.count < 10:
            report.notes.append(f"only {inter.loaded.count} requests during the conversion: "
                                "p95 is a rough figure; use a longer document")
    for note in report.notes:
        print(f"note: {note}")
    print(f"elapsed {report.environment['elapsed_s']:.0f} s, load avg "
          f"{report.environment['loadavg_start'][0]:.2f} -> "
          f"{report.environment['loadavg_end'][0]:.2f}")
    if args.json:
        args.json.write_text(json.dumps(report.to_json(), indent=2, default=str) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
