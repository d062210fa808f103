"""Serving benchmark: voxserve over HTTP versus the raw Piper engine, on the same machine.

Every figure that matters is a ratio measured within one run: for each concurrency level the
raw engine (in-process) and the server (``voxserve serve`` subprocess) process the same
sentences in alternating blocks (raw, served, served, raw, ...), one block at a time, so both
sides see the same machine noise. See ``bench/README.md`` for how to run and read it.

    .venv/bin/python bench/serving.py [--clients 1,4,8] [--requests N] [--quick] [--json out.json]
    .venv/bin/python bench/serving.py --engine-workers 1,2 --intra-op-threads 0,1,2   # sweep
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import itertools
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import onnxruntime

from voxserve.engines.base import SynthesisParams
from voxserve.engines.piper import PiperEngine
from voxserve.settings import Settings
from voxserve.text import prepare_segments

BENCH_DIR = Path(__file__).resolve().parent
SENTENCES_FILE = BENCH_DIR / "data" / "harvard-dev.txt"
VOICE_ID = "en_US-joe-medium"
PCM_BYTES_PER_AUDIO_S = 2 * 22050  # s16le mono at the voice's 22050 Hz
SPEECH_PATH = "/v1/audio/speech"
READY_TIMEOUT_S = 180.0
READ_SIZE = 64 * 1024
TARGET_THROUGHPUT_RATIO = 0.95
TARGET_TTFA_RATIO = 1.3
PARAGRAPH_SENTENCES = 5
TTFA_FORMATS = ("pcm", "mp3")

ClientKind = Literal["threads", "httpx"]


# --- configuration ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Combo:
    """One combination of the engine settings under test (server and raw engine alike)."""

    engine_workers: int
    intra_op_threads: int

    @property
    def label(self) -> str:
        return f"workers={self.engine_workers} intra={self.intra_op_threads}"

    def settings(self, data_dir: Path) -> Settings:
        return Settings(
            data_dir=data_dir,
            engine_workers=self.engine_workers,
            piper_intra_op_threads=self.intra_op_threads,
        )

    def env(self, data_dir: Path) -> dict[str, str]:
        return {
            "VOXSERVE_DATA_DIR": str(data_dir),
            "VOXSERVE_ENGINE_WORKERS": str(self.engine_workers),
            "VOXSERVE_PIPER_INTRA_OP_THREADS": str(self.intra_op_threads),
            "VOXSERVE_LOG_LEVEL": "warning",
        }


@dataclass(frozen=True, slots=True)
class Config:
    clients: tuple[int, ...]
    requests: int
    rounds: int
    ttfa_runs: int
    combos: tuple[Combo, ...]
    client: ClientKind
    json_path: Path | None


def _int_list(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None
    if not values or min(values) < 0:
        raise argparse.ArgumentTypeError(f"expected non-negative integers, got {text!r}")
    return values


def parse_args(argv: Sequence[str] | None = None) -> Config:
    defaults = Settings()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=_int_list, default=(1, 4, 8),
                        help="concurrency levels (default 1,4,8)")
    parser.add_argument("--requests", type=int, default=None,
                        help="requests per side, per settings combination and level "
                             "(default 48, --quick 16)")
    parser.add_argument("--rounds", type=int, default=None,
                        help="alternating raw/served blocks the requests are split into "
                             "(default 3, --quick 2)")
    parser.add_argument("--ttfa-runs", type=int, default=None,
                        help="runs of the paragraph time-to-first-audio test (default 5)")
    parser.add_argument("--quick", action="store_true", help="about one minute smoke run")
    parser.add_argument("--engine-workers", type=_int_list, default=(defaults.engine_workers,),
                        help="VOXSERVE_ENGINE_WORKERS values, comma-separated "
                             f"(default {defaults.engine_workers})")
    parser.add_argument("--intra-op-threads", type=_int_list,
                        default=(defaults.piper_intra_op_threads,),
                        help="VOXSERVE_PIPER_INTRA_OP_THREADS values, comma-separated, "
                             f"0 = all cores (default {defaults.piper_intra_op_threads})")
    parser.add_argument("--client", choices=("threads", "httpx"), default="threads",
                        help="load generator: http.client in threads (default) or one "
                             "asyncio httpx client")
    parser.add_argument("--json", type=Path, default=None, help="write all figures here")
    args = parser.parse_args(argv)
    if min(args.clients) < 1 or min(args.engine_workers) < 1:
        parser.error("--clients and --engine-workers must be at least 1")
    combos = tuple(Combo(w, t) for w, t in itertools.product(args.engine_workers,
                                                              args.intra_op_threads))
    return Config(
        clients=args.clients,
        requests=args.requests or (16 if args.quick else 48),
        rounds=args.rounds or (2 if args.quick else 3),
        ttfa_runs=args.ttfa_runs or (3 if args.quick else 5),
        combos=combos,
        client=args.client,
        json_path=args.json,
    )


def load_sentences(path: Path = SENTENCES_FILE) -> list[str]:
    return [line.strip() for line in path.read_text("utf-8").splitlines() if line.strip()]


# --- measurements ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sample:
    """One request: wall latency, time to first body byte (served only), audio produced."""

    latency_s: float
    ttfb_s: float | None
    audio_s: float


@dataclass(slots=True)
class Block:
    """A batch of requests run by one side at one concurrency level."""

    samples: list[Sample]
    wall_s: float
    #: CPU time of the process doing the synthesis (bench process for raw, server for served).
    engine_cpu_s: float
    #: CPU time of the load generator (served only; the bench process).
    client_cpu_s: float


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


@dataclass(slots=True)
class SideStats:
    """Aggregated figures of one side (raw or served) at one concurrency level."""

    requests: int
    wall_s: float
    requests_per_s: float
    audio_s_per_s: float
    audio_s_per_request: float
    latency_p50_s: float
    latency_p95_s: float
    latency_p99_s: float
    ttfb_p50_s: float | None
    ttfb_p95_s: float | None
    engine_cpu_ms_per_request: float
    client_cpu_ms_per_request: float
    client_cpu_share: float
    round_requests_per_s: list[float]

    @classmethod
    def of(cls, blocks: Sequence[Block]) -> SideStats:
        samples = [s for block in blocks for s in block.samples]
        wall = sum(block.wall_s for block in blocks)
        audio = sum(s.audio_s for s in samples)
        latencies = [s.latency_s for s in samples]
        ttfbs = [s.ttfb_s for s in samples if s.ttfb_s is not None]
        client_cpu = sum(block.client_cpu_s for block in blocks)
        n = len(samples)
        return cls(
            requests=n,
            wall_s=wall,
            requests_per_s=n / wall,
            audio_s_per_s=audio / wall,
            audio_s_per_request=audio / n,
            latency_p50_s=percentile(latencies, 50),
            latency_p95_s=percentile(latencies, 95),
            latency_p99_s=percentile(latencies, 99),
            ttfb_p50_s=percentile(ttfbs, 50) if ttfbs else None,
            ttfb_p95_s=percentile(ttfbs, 95) if ttfbs else None,
            engine_cpu_ms_per_request=1000 * sum(b.engine_cpu_s for b in blocks) / n,
            client_cpu_ms_per_request=1000 * client_cpu / n,
            client_cpu_share=client_cpu / (wall * (os.cpu_count() or 1)),
            round_requests_per_s=[len(b.samples) / b.wall_s for b in blocks],
        )


def run_concurrently(
    workers: Sequence[Callable[[str], Sample]], texts: Sequence[str]
) -> tuple[list[Sample], float]:
    """Each worker (one thread) takes the next text until none is left; returns samples, wall."""
    next_index = itertools.count()
    samples: list[Sample] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def loop(worker: Callable[[str], Sample]) -> None:
        try:
            while (index := next(next_index)) < len(texts):
                sample = worker(texts[index])
                with lock:
                    samples.append(sample)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=loop, args=(w,), daemon=True) for w in workers]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    if errors:
        raise errors[0]
    return samples, wall


class Target(Protocol):
    """One side of the comparison for one settings combination."""

    side: str

    def run_block(self, texts: Sequence[str], concurrency: int) -> Block: ...


# --- raw engine -----------------------------------------------------------------------------


class RawTarget:
    """The Piper engine in this process, called from ``concurrency`` threads."""

    side = "raw"

    def __init__(self, engine: PiperEngine) -> None:
        self.engine = engine
        self.params = SynthesisParams()

    def synthesize(self, text: str) -> Sample:
        start = time.perf_counter()
        samples = 0
        rate = 1
        for chunk in self.engine.synthesize(text, VOICE_ID, self.params):
            samples += len(chunk.samples)
            rate = chunk.sample_rate_hz
        return Sample(time.perf_counter() - start, None, samples / rate)

    def run_block(self, texts: Sequence[str], concurrency: int) -> Block:
        cpu = time.process_time()
        samples, wall = run_concurrently([self.synthesize] * concurrency, texts)
        return Block(samples, wall, time.process_time() - cpu, 0.0)


# --- served -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads), from /proc; 0 elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def speech_body(text: str, response_format: str = "pcm") -> bytes:
    return json.dumps(
        {"model": "piper", "voice": "joe", "input": text, "response_format": response_format}
    ).encode()


def timed_post(conn: http.client.HTTPConnection, body: bytes) -> tuple[float, float, int]:
    """POST a speech request on a kept-alive connection: (ttfb_s, latency_s, body bytes)."""
    start = time.perf_counter()
    conn.request("POST", SPEECH_PATH, body=body, headers={"Content-Type": "application/json"})
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
    return (ttfb if ttfb is not None else latency), latency, received


class Server:
    """A ``voxserve serve`` subprocess with one combination of settings."""

    def __init__(self, combo: Combo, workdir: Path) -> None:
        self.combo = combo
        self.port = free_port()
        data_dir = workdir / f"data-{combo.engine_workers}-{combo.intra_op_threads}"
        data_dir.mkdir()
        self.log_path = workdir / f"server-{combo.engine_workers}-{combo.intra_op_threads}.log"
        env = {**os.environ, **combo.env(data_dir)}
        command = [str(Path(sys.executable).with_name("voxserve")), "serve",
                   "--host", "127.0.0.1", "--port", str(self.port)]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(command, env=env, stdout=log,
                                            stderr=subprocess.STDOUT)

    def connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)

    def wait_ready(self) -> float:
        """Poll ``GET /readyz`` until 200; returns the seconds it took."""
        start = time.perf_counter()
        while time.perf_counter() - start < READY_TIMEOUT_S:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited ({self.process.returncode}):\n{self.log()}")
            try:
                conn = self.connect()
                conn.request("GET", "/readyz")
                status = conn.getresponse().status
                conn.close()
                if status == 200:
                    return time.perf_counter() - start
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"server not ready after {READY_TIMEOUT_S:.0f} s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def cpu_s(self) -> float:
        return process_cpu_s(self.process.pid)


class ServedThreadsTarget:
    """The server, loaded by ``http.client`` in threads, one kept-alive connection each.

    Connections are opened per block: uvicorn closes connections idle for 5 s, which those
    of one combination are while the others run.
    """

    side = "served"

    def __init__(self, server: Server) -> None:
        self.server = server

    @staticmethod
    def _worker(conn: http.client.HTTPConnection) -> Callable[[str], Sample]:
        def request(text: str) -> Sample:
            ttfb, latency, size = timed_post(conn, speech_body(text))
            return Sample(latency, ttfb, size / PCM_BYTES_PER_AUDIO_S)

        return request

    def run_block(self, texts: Sequence[str], concurrency: int) -> Block:
        connections = [self.server.connect() for _ in range(concurrency)]
        try:
            cpu, server_cpu = time.process_time(), self.server.cpu_s()
            samples, wall = run_concurrently([self._worker(c) for c in connections], texts)
            server_cpu = self.server.cpu_s() - server_cpu
            return Block(samples, wall, server_cpu, time.process_time() - cpu)
        finally:
            for conn in connections:
                conn.close()

    def close(self) -> None:
        pass


class ServedHttpxTarget:
    """The server, loaded by one asyncio ``httpx.AsyncClient`` with ``concurrency`` tasks."""

    side = "served"

    def __init__(self, server: Server) -> None:
        self.server = server

    async def _run(self, texts: Sequence[str], concurrency: int) -> tuple[list[Sample], float]:
        import httpx  # only this client needs it

        queue = iter(texts)
        samples: list[Sample] = []
        limits = httpx.Limits(max_connections=concurrency)
        base = f"http://127.0.0.1:{self.server.port}"
        async with httpx.AsyncClient(base_url=base, limits=limits, timeout=300) as client:

            async def worker() -> None:
                for text in queue:
                    start = time.perf_counter()
                    ttfb = None
                    size = 0
                    async with client.stream("POST", SPEECH_PATH, content=speech_body(text),
                                             headers={"Content-Type": "application/json"}) as r:
                        r.raise_for_status()
                        async for data in r.aiter_raw():
                            if ttfb is None:
                                ttfb = time.perf_counter() - start
                            size += len(data)
                    latency = time.perf_counter() - start
                    samples.append(Sample(latency, ttfb, size / PCM_BYTES_PER_AUDIO_S))

            start = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            return samples, time.perf_counter() - start

    def run_block(self, texts: Sequence[str], concurrency: int) -> Block:
        cpu, server_cpu = time.process_time(), self.server.cpu_s()
        samples, wall = asyncio.run(self._run(texts, concurrency))
        return Block(samples, wall, self.server.cpu_s() - server_cpu, time.process_time() - cpu)

    def close(self) -> None:
        pass


# --- the run ---------------------------------------------------------------------------------


@dataclass(slots=True)
class Setup:
    """Everything under test for one settings combination."""

    combo: Combo
    settings: Settings
    server: Server
    raw: RawTarget
    served: ServedThreadsTarget | ServedHttpxTarget
    ready_s: float = 0.0


@dataclass(slots=True)
class LevelResult:
    combo: str
    concurrency: int
    raw: SideStats
    served: SideStats
    throughput_ratio: float
    audio_ratio: float
    round_ratios: list[float]


@dataclass(slots=True)
class TtfaResult:
    combo: str
    first_segment: str
    segments: int
    raw_first_sentence_s: list[float]
    served_ttfa_s: dict[str, list[float]] = field(default_factory=dict)
    served_total_s: dict[str, list[float]] = field(default_factory=dict)

    def ratio(self, response_format: str) -> float:
        raw = statistics.median(self.raw_first_sentence_s)
        return statistics.median(self.served_ttfa_s[response_format]) / raw


@contextmanager
def open_setups(config: Config, workdir: Path) -> Iterator[list[Setup]]:
    """Start one server and load one raw engine per combination (servers first, in parallel)."""
    with ExitStack() as stack:
        servers = []
        for combo in config.combos:
            server = Server(combo, workdir)
            stack.callback(server.stop)
            servers.append(server)
        setups = []
        for server in servers:
            ready_s = server.wait_ready()
            settings = server.combo.settings(workdir / "raw-data")
            engine = PiperEngine(settings)
            engine.load()
            stack.callback(engine.close)
            served: ServedThreadsTarget | ServedHttpxTarget = (
                ServedThreadsTarget(server) if config.client == "threads"
                else ServedHttpxTarget(server)
            )
            stack.callback(served.close)
            setups.append(
                Setup(server.combo, settings, server, RawTarget(engine), served, ready_s)
            )
        yield setups


def warm_up(setups: Sequence[Setup], sentences: Sequence[str]) -> None:
    """First requests pay one-off costs (imports, first encoder, connection set-up)."""
    for setup in setups:
        setup.raw.run_block(sentences[:2], 1)
        setup.served.run_block(sentences[:2], 1)
        conn = setup.server.connect()
        for response_format in TTFA_FORMATS:
            timed_post(conn, speech_body(" ".join(sentences[:2]), response_format))
        conn.close()


def block_texts(sentences: Sequence[str], start: int, count: int) -> list[str]:
    return [sentences[(start + i) % len(sentences)] for i in range(count)]


def measure_level(
    setups: Sequence[Setup], sentences: Sequence[str], concurrency: int, config: Config,
    cursor: int,
) -> list[LevelResult]:
    """All combinations at one concurrency level, raw and served blocks alternating."""
    per_block = max(1, config.requests // config.rounds)
    targets: list[tuple[int, Target]] = []
    for index, setup in enumerate(setups):
        targets += [(index, setup.raw), (index, setup.served)]
    blocks: dict[tuple[int, str], list[Block]] = {}
    for round_index in range(config.rounds):
        texts = block_texts(sentences, cursor + round_index * per_block, per_block)
        order = targets if round_index % 2 == 0 else targets[::-1]
        for index, target in order:
            block = target.run_block(texts, concurrency)
            blocks.setdefault((index, target.side), []).append(block)
    results = []
    for index, setup in enumerate(setups):
        raw, served = blocks[(index, "raw")], blocks[(index, "served")]
        raw_stats, served_stats = SideStats.of(raw), SideStats.of(served)
        results.append(LevelResult(
            combo=setup.combo.label,
            concurrency=concurrency,
            raw=raw_stats,
            served=served_stats,
            throughput_ratio=served_stats.requests_per_s / raw_stats.requests_per_s,
            audio_ratio=served_stats.audio_s_per_s / raw_stats.audio_s_per_s,
            round_ratios=[r.wall_s / s.wall_s for r, s in zip(raw, served, strict=True)],
        ))
    return results


def measure_ttfa(setups: Sequence[Setup], sentences: Sequence[str], runs: int) -> list[TtfaResult]:
    """Paragraph of 5 sentences: served time to first body bytes vs raw first-sentence time."""
    paragraph = " ".join(sentences[:PARAGRAPH_SENTENCES])
    segments = prepare_segments(paragraph, setups[0].settings.max_segment_chars)
    results = [TtfaResult(s.combo.label, segments[0], len(segments), []) for s in setups]
    for _ in range(runs):
        for setup, result in zip(setups, results, strict=True):
            result.raw_first_sentence_s.append(setup.raw.synthesize(segments[0]).latency_s)
            conn = setup.server.connect()
            for response_format in TTFA_FORMATS:
                ttfb, total, _ = timed_post(conn, speech_body(paragraph, response_format))
                result.served_ttfa_s.setdefault(response_format, []).append(ttfb)
                result.served_total_s.setdefault(response_format, []).append(total)
            conn.close()
    return results


# --- report ----------------------------------------------------------------------------------


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _ratio(served: float | None, raw: float | None) -> str:
    return "-" if served is None or not raw else f"{served / raw:.3f}"


def print_level(result: LevelResult, per_block: int, rounds: int) -> None:
    raw, served = result.raw, result.served
    print(f"\n== {result.concurrency} concurrent client(s) | {result.combo} | "
          f"{raw.requests} requests per side in {rounds} alternating blocks of {per_block} ==")
    print(f"{'':24}{'raw':>10}{'served':>10}{'served/raw':>12}")
    rows: list[tuple[str, float | None, float | None]] = [
        ("requests/s", raw.requests_per_s, served.requests_per_s),
        ("audio-s/s", raw.audio_s_per_s, served.audio_s_per_s),
        ("audio-s per request", raw.audio_s_per_request, served.audio_s_per_request),
        ("latency p50 (s)", raw.latency_p50_s, served.latency_p50_s),
        ("latency p95 (s)", raw.latency_p95_s, served.latency_p95_s),
        ("latency p99 (s)", raw.latency_p99_s, served.latency_p99_s),
        ("TTFB p50 (s)", None, served.ttfb_p50_s),
        ("TTFB p95 (s)", None, served.ttfb_p95_s),
        ("engine CPU ms/request", raw.engine_cpu_ms_per_request,
         served.engine_cpu_ms_per_request),
        ("client CPU ms/request", None, served.client_cpu_ms_per_request),
    ]
    for name, raw_value, served_value in rows:
        print(f"{name:24}{_fmt(raw_value):>10}{_fmt(served_value):>10}"
              f"{_ratio(served_value, raw_value):>12}")
    verdict = "ok" if result.throughput_ratio >= TARGET_THROUGHPUT_RATIO else "BELOW TARGET"
    rounds_text = " ".join(f"{r:.3f}" for r in result.round_ratios)
    print(f"ratio served/raw throughput: {result.throughput_ratio:.3f} "
          f"(target >= {TARGET_THROUGHPUT_RATIO}: {verdict}); per block pair: {rounds_text}")
    print(f"client CPU: {100 * served.client_cpu_share:.1f}% of the machine's CPU time "
          f"during the served blocks")


def print_ttfa(result: TtfaResult) -> None:
    raw = statistics.median(result.raw_first_sentence_s)
    print(f"\n== time to first audio, {PARAGRAPH_SENTENCES}-sentence paragraph "
          f"({result.segments} segments) | {result.combo} | "
          f"median of {len(result.raw_first_sentence_s)} ==")
    print(f"raw engine, first sentence alone      {raw:.3f} s")
    for response_format in TTFA_FORMATS:
        ttfa = statistics.median(result.served_ttfa_s[response_format])
        total = statistics.median(result.served_total_s[response_format])
        ratio = result.ratio(response_format)
        verdict = "ok" if ratio <= TARGET_TTFA_RATIO else "ABOVE TARGET"
        print(f"served {response_format:4} first bytes            {ttfa:.3f} s   "
              f"ratio {ratio:.3f} (target <= {TARGET_TTFA_RATIO}: {verdict}); "
              f"whole paragraph {total:.3f} s")


def _grid_cell(result: LevelResult) -> str:
    return f"{result.served.requests_per_s:.2f} ({result.throughput_ratio:.2f})"


def print_summary(levels: Sequence[LevelResult], ttfa: Sequence[TtfaResult]) -> dict[str, Any]:
    """Grid of served throughput per combination and level; the best combination per level."""
    clients = sorted({r.concurrency for r in levels})
    combos = list(dict.fromkeys(r.combo for r in levels))
    by_key = {(r.combo, r.concurrency): r for r in levels}
    print("\n== summary: served requests/s (served/raw throughput ratio) ==")
    print(f"{'settings':22}" + "".join(f"{f'C={c}':>18}" for c in clients)
          + "".join(f"{f'TTFA {f}':>12}" for f in TTFA_FORMATS))
    ttfa_by_combo = {t.combo: t for t in ttfa}
    for combo in combos:
        cells = "".join(f"{_grid_cell(by_key[combo, c]):>18}" for c in clients)
        ttfa_cells = "".join(f"{ttfa_by_combo[combo].ratio(f):>12.2f}" for f in TTFA_FORMATS)
        print(f"{combo:22}{cells}{ttfa_cells}")
    best = {}
    for c in clients:
        winner = max((by_key[combo, c] for combo in combos),
                     key=lambda r: r.served.requests_per_s)
        best[str(c)] = winner.combo
        print(f"best served throughput at C={c}: {winner.combo} "
              f"({winner.served.requests_per_s:.2f} req/s, ratio {winner.throughput_ratio:.3f})")
    return best


def environment_info() -> dict[str, Any]:
    return {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "onnxruntime": onnxruntime.__version__,
        "platform": platform.platform(),
        "loadavg_start": os.getloadavg(),
    }


def run(config: Config) -> dict[str, Any]:
    sentences = load_sentences()
    info = environment_info()
    per_block = max(1, config.requests // config.rounds)
    print(f"voxserve serving benchmark: {len(sentences)} Harvard sentences, clients "
          f"{','.join(map(str, config.clients))}, {per_block * config.rounds} requests per side "
          f"per level, client={config.client}, settings: "
          f"{'; '.join(c.label for c in config.combos)}")
    print(f"machine: {info['cpu_count']} CPUs, load average {info['loadavg_start'][0]:.2f}, "
          f"python {info['python']}, onnxruntime {info['onnxruntime']}")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="voxserve-bench-") as tmp, \
            open_setups(config, Path(tmp)) as setups:
        for setup in setups:
            print(f"server {setup.combo.label}: ready in {setup.ready_s:.1f} s "
                  f"(port {setup.server.port})")
        warm_up(setups, sentences)
        levels: list[LevelResult] = []
        cursor = 0
        for concurrency in config.clients:
            results = measure_level(setups, sentences, concurrency, config, cursor)
            cursor += per_block * config.rounds
            for result in results:
                print_level(result, per_block, config.rounds)
            levels += results
        ttfa = measure_ttfa(setups, sentences, config.ttfa_runs)
        for result in ttfa:
            print_ttfa(result)
    best = print_summary(levels, ttfa)
    info["loadavg_end"] = os.getloadavg()
    elapsed = time.perf_counter() - started
    print(f"\ndone in {elapsed:.0f} s; load average now {info['loadavg_end'][0]:.2f}")
    return {
        "config": {**asdict(config), "json_path": str(config.json_path)},
        "environment": info,
        "elapsed_s": elapsed,
        "levels": [asdict(r) for r in levels],
        "ttfa": [
            {**asdict(t), "ratio": {f: t.ratio(f) for f in TTFA_FORMATS}} for t in ttfa
        ],
        "best_served_throughput": best,
    }


def main(argv: Sequence[str] | None = None) -> int:
    config = parse_args(argv)
    report = run(config)
    if config.json_path:
        config.json_path.parent.mkdir(parents=True, exist_ok=True)
        config.json_path.write_text(json.dumps(report, indent=2) + "\n")
        print(f"figures written to {config.json_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
