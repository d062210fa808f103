"""Serving benchmark: voxserve over HTTP versus the raw Piper engine, on the same machine.

Every figure that matters is a ratio measured within one run: at each concurrency level the
raw engine (in-process) and the server (a ``voxserve serve`` subprocess) synthesize the same
sentences in short alternating blocks (raw, served, served, raw, ...), never at the same time,
so both sides see the same machine noise. See ``bench/README.md`` for how to run and read it.

    .venv/bin/python bench/serving.py [--clients 1,4,8] [--requests N] [--quick] [--json F]
    .venv/bin/python bench/serving.py --engine-workers 1,2 --intra-op-threads 0,1,2  # sweep
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import itertools
import json
import math
import os
import platform
import queue
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import onnxruntime

from harness import (
    JSON_HEADERS,
    SPEECH_PATH,
    PiperHttpServer,
    Server,
    load_sentences,
    percentile,
    run_concurrently,
    timed_post,
)
from voxserve.engines.base import SynthesisParams
from voxserve.engines.piper import PiperEngine, bundled_voice_files
from voxserve.settings import Settings
from voxserve.text import prepare_segments

VOICE_ID = "en_US-joe-medium"
PCM_BYTES_PER_AUDIO_S = 2 * 22050  # s16le mono at the voice's 22050 Hz
TARGET_THROUGHPUT_RATIO = 0.95
TARGET_TTFA_RATIO = 1.3
PARAGRAPH_SENTENCES = 5
TTFA_FORMATS = ("pcm", "mp3")
RAW, CAPPED, SERVED, PIPER = "raw", "raw-capped", "served", "piper-srv"
#: The raw engine with every core per call (issue 17's reference for one client), when the
#: combination under test gives a session fewer threads than that.
RAW_ALL = "raw-allcore"
#: voxserve's requests/s over Piper's own server's (issue 17: at c=1 >= 1.3, never below 1)
TARGET_PIPER_RATIO_C1 = 1.3
#: A pause before each block and each timed request of another side: onnxruntime's pool
#: threads keep spinning for a while after a run in Piper's server (its defaults), and
#: the next side's first request would pay for it.
SETTLE_S = 0.25

ClientKind = Literal["threads", "httpx"]

#: The setting for how many segments an engine synthesizes at once: ``engine_workers`` (threads
#: sharing one engine) in older trees, ``engine_replicas`` (engine instances, one thread each).
WORKERS_FIELD = next(
    (name for name in ("engine_workers", "engine_replicas") if name in Settings.model_fields),
    "engine_workers",
)
REPLICAS = WORKERS_FIELD == "engine_replicas"
#: Settings pinned on both sides, where this tree has them: no result cache, or repeated
#: sentences (warm-up, TTFA runs, wrapped workloads) would be served without synthesis.
PINNED_SETTINGS: dict[str, str] = {
    name: value for name, value in {"cache_url": "none"}.items() if name in Settings.model_fields
}


# --- configuration ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Combo:
    """One combination of the engine settings under test (server and raw engine alike)."""

    engine_workers: int
    intra_op_threads: int

    @property
    def label(self) -> str:
        kind = "replicas" if REPLICAS else "workers"
        return f"{kind}={self.engine_workers} intra={self.intra_op_threads}"

    def settings(self, data_dir: Path) -> Settings:
        return Settings(
            data_dir=data_dir,
            piper_intra_op_threads=self.intra_op_threads,
            **{WORKERS_FIELD: self.engine_workers},
            **PINNED_SETTINGS,
        )

    def env(self) -> dict[str, str]:
        """The server's environment for these settings (on top of the harness's own)."""
        return {
            f"VOXSERVE_{WORKERS_FIELD.upper()}": str(self.engine_workers),
            "VOXSERVE_PIPER_INTRA_OP_THREADS": str(self.intra_op_threads),
            **{f"VOXSERVE_{name.upper()}": value for name, value in PINNED_SETTINGS.items()},
        }


@dataclass(frozen=True, slots=True)
class Config:
    clients: tuple[int, ...]
    requests: int
    block: int | None
    ttfa_runs: int
    combos: tuple[Combo, ...]
    client: ClientKind
    raw_capped: bool
    json_path: Path | None
    #: Piper's own HTTP server as a side of every round (``--no-piper-server``: not)
    piper_server: bool = True
    quiet_threshold: float = 0.25
    quiet_wait_s: float = 60.0

    def block_size(self, concurrency: int) -> int:
        """Requests per block: short blocks pair raw and served closely in time."""
        return self.block or max(4, 2 * concurrency)

    def rounds(self, concurrency: int) -> int:
        return max(1, math.ceil(self.requests / self.block_size(concurrency)))


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
    parser = argparse.ArgumentParser(description="voxserve serving benchmark (see bench/README)")
    parser.add_argument("--clients", type=_int_list, default=(1, 4, 8),
                        help="concurrency levels (default 1,4,8)")
    parser.add_argument("--requests", type=int, default=None,
                        help="requests per side, settings combination and level "
                             "(default 80, --quick 16); rounded up to whole blocks")
    parser.add_argument("--block", type=int, default=None,
                        help="requests per block (default max(4, 2 x clients))")
    parser.add_argument("--ttfa-runs", type=int, default=None,
                        help="runs of the paragraph time-to-first-audio test (default 7, "
                             "--quick 3)")
    parser.add_argument("--quick", action="store_true", help="about one minute smoke run")
    # The server's own defaults, resolved (0 means "auto" in the settings).
    default_workers = defaults.replicas_for("piper")
    default_intra = defaults.resolved_piper_intra_op_threads
    parser.add_argument("--engine-workers", "--engine-replicas", type=_int_list,
                        default=(default_workers,),
                        help=f"VOXSERVE_{WORKERS_FIELD.upper()} values, comma-separated "
                             f"(default {default_workers})")
    parser.add_argument("--intra-op-threads", type=_int_list,
                        default=(default_intra,),
                        help="VOXSERVE_PIPER_INTRA_OP_THREADS values, comma-separated "
                             f"(default: the server's, {default_intra} here)")
    parser.add_argument("--raw-capped", action="store_true",
                        help="also run the raw engine with at most engine-workers syntheses "
                             "at a time (the server's policy), to separate serving overhead "
                             "from the cost of that policy")
    parser.add_argument("--client", choices=("threads", "httpx"), default="threads",
                        help="load generator: http.client in threads (default) or one "
                             "asyncio httpx client")
    parser.add_argument("--quiet-threshold", type=float, default=0.25,
                        help="other processes' load (cores) under which the machine counts "
                             "as quiet (default 0.25)")
    parser.add_argument("--quiet-wait", type=float, default=None,
                        help="seconds the whole run may wait, before rounds, for other "
                             "processes to go quiet (default 60, --quick 10; 0: never wait)")
    parser.add_argument("--no-piper-server", action="store_true",
                        help="leave out Piper's own HTTP server (python -m piper.http_server, "
                             "needs flask), otherwise a side of every round")
    parser.add_argument("--json", type=Path, default=None, help="write all figures here")
    args = parser.parse_args(argv)
    if min(args.clients) < 1 or min(args.engine_workers) < 1:
        parser.error("--clients and --engine-workers must be at least 1")
    combos = itertools.product(args.engine_workers, args.intra_op_threads)
    return Config(
        clients=args.clients,
        requests=args.requests or (16 if args.quick else 80),
        block=args.block,
        ttfa_runs=args.ttfa_runs or (3 if args.quick else 7),
        combos=tuple(Combo(workers, threads) for workers, threads in combos),
        client=args.client,
        raw_capped=args.raw_capped,
        json_path=args.json,
        piper_server=not args.no_piper_server,
        quiet_threshold=args.quiet_threshold,
        quiet_wait_s=args.quiet_wait if args.quiet_wait is not None else (
            10.0 if args.quick else 60.0
        ),
    )


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
    #: CPU time used on the machine by processes other than this benchmark and its servers.
    other_cpu_s: float = 0.0


def machine_busy_s() -> float:
    """CPU seconds every process on the machine has used, stolen time included (/proc/stat)."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
    except OSError:
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields)
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


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
    client_cpu_ms_per_request: float | None
    #: Client CPU time over the CPU time the machine had during the blocks (wall x cores).
    client_cpu_share: float | None
    #: Mean number of cores other processes (not this benchmark) kept busy: the run's noise.
    other_load_cores: float
    block_requests_per_s: list[float]

    @classmethod
    def of(cls, blocks: Sequence[Block], served: bool) -> SideStats:
        samples = [s for block in blocks for s in block.samples]
        wall = sum(block.wall_s for block in blocks)
        latencies = [s.latency_s for s in samples]
        ttfbs = [s.ttfb_s for s in samples if s.ttfb_s is not None]
        client_cpu = sum(block.client_cpu_s for block in blocks)
        n = len(samples)
        return cls(
            requests=n,
            wall_s=wall,
            requests_per_s=n / wall,
            audio_s_per_s=sum(s.audio_s for s in samples) / wall,
            audio_s_per_request=sum(s.audio_s for s in samples) / n,
            latency_p50_s=percentile(latencies, 50),
            latency_p95_s=percentile(latencies, 95),
            latency_p99_s=percentile(latencies, 99),
            ttfb_p50_s=percentile(ttfbs, 50) if ttfbs else None,
            ttfb_p95_s=percentile(ttfbs, 95) if ttfbs else None,
            engine_cpu_ms_per_request=1000 * sum(b.engine_cpu_s for b in blocks) / n,
            client_cpu_ms_per_request=1000 * client_cpu / n if served else None,
            client_cpu_share=client_cpu / (wall * (os.cpu_count() or 1)) if served else None,
            other_load_cores=sum(b.other_cpu_s for b in blocks) / wall,
            block_requests_per_s=[len(b.samples) / b.wall_s for b in blocks],
        )


class Target(Protocol):
    """One side of the comparison for one settings combination."""

    side: str

    def run_block(self, texts: Sequence[str], concurrency: int) -> Block: ...


# --- raw engine -----------------------------------------------------------------------------


class RawTarget:
    """The Piper engine in this process, called from ``concurrency`` threads.

    Uncapped, every thread calls the one engine at once. Capped, the engines in ``slots``
    (the same engine N times for ``engine_workers``, N engines for ``engine_replicas``) each
    serve one thread at a time, as the server does, and latency includes the wait for one.
    """

    def __init__(self, engine: PiperEngine, slots: Sequence[PiperEngine] = (),
                 side: str | None = None) -> None:
        self.engine = engine
        self.params = SynthesisParams()
        self.side = side or (CAPPED if slots else RAW)
        self._slots: queue.SimpleQueue[PiperEngine] | None = None
        if slots:
            self._slots = queue.SimpleQueue()
            for slot in slots:
                self._slots.put(slot)

    def synthesize(self, text: str) -> Sample:
        start = time.perf_counter()
        engine = self._slots.get() if self._slots else self.engine
        try:
            samples = 0
            rate = 1
            for chunk in engine.synthesize(text, VOICE_ID, self.params):
                samples += len(chunk.samples)
                rate = chunk.sample_rate_hz
        finally:
            if self._slots:
                self._slots.put(engine)
        return Sample(time.perf_counter() - start, None, samples / rate)

    def run_block(self, texts: Sequence[str], concurrency: int) -> Block:
        cpu = time.process_time()  # the calling threads and onnxruntime's own
        samples, wall, _ = run_concurrently([self.synthesize] * concurrency, texts)
        return Block(samples, wall, time.process_time() - cpu, 0.0)


# --- served -----------------------------------------------------------------------------------


def speech_body(text: str, response_format: str = "pcm") -> bytes:
    # at the voice's rate: pcm defaults to OpenAI's 24 kHz, which would add a resampling
    # step the raw engine does not have
    return json.dumps(
        {"model": "piper", "voice": "joe", "input": text, "response_format": response_format,
         "sample_rate": 22050}
    ).encode()


class ServedThreadsTarget:
    """The server, loaded by ``http.client`` in threads, one kept-alive connection each.

    Connections are opened per block: uvicorn closes connections idle for 5 s, as those of one
    settings combination are while the others run.
    """

    side = SERVED

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
            server_cpu = self.server.cpu_s()
            workers = [self._worker(c) for c in connections]
            samples, wall, client_cpu = run_concurrently(workers, texts)
            return Block(samples, wall, self.server.cpu_s() - server_cpu, client_cpu)
        finally:
            for conn in connections:
                conn.close()


class ServedHttpxTarget:
    """The server, loaded by one asyncio ``httpx.AsyncClient`` with ``concurrency`` tasks."""

    side = SERVED

    def __init__(self, server: Server) -> None:
        self.server = server

    async def _run(self, texts: Sequence[str], concurrency: int) -> tuple[list[Sample], float]:
        import httpx  # only this client needs it

        queue = iter(texts)
        samples: list[Sample] = []
        limits = httpx.Limits(max_connections=concurrency)
        headers = dict(JSON_HEADERS)
        async with httpx.AsyncClient(base_url=self.server.base_url, limits=limits,
                                     timeout=300) as client:

            async def request(text: str) -> Sample:
                start = time.perf_counter()
                ttfb = None
                size = 0
                body = speech_body(text)
                async with client.stream("POST", SPEECH_PATH, content=body,
                                         headers=headers) as response:
                    response.raise_for_status()
                    async for data in response.aiter_raw():
                        if ttfb is None:
                            ttfb = time.perf_counter() - start
                        size += len(data)
                return Sample(time.perf_counter() - start, ttfb, size / PCM_BYTES_PER_AUDIO_S)

            async def worker() -> None:
                for text in queue:
                    samples.append(await request(text))

            start = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            return samples, time.perf_counter() - start

    def run_block(self, texts: Sequence[str], concurrency: int) -> Block:
        cpu, server_cpu = time.thread_time(), self.server.cpu_s()
        samples, wall = asyncio.run(self._run(texts, concurrency))
        return Block(samples, wall, self.server.cpu_s() - server_cpu, time.thread_time() - cpu)


class PiperServerTarget:
    """Piper's own HTTP server, loaded like the served side (``http.client`` in threads, one
    kept-alive connection each); its answer is a WAV file of the whole text."""

    side = PIPER

    def __init__(self, server: PiperHttpServer) -> None:
        self.server = server

    def request(self, conn: http.client.HTTPConnection, text: str) -> Sample:
        ttfb, latency, size = timed_post(conn, self.server.body(text), path=self.server.PATH)
        return Sample(latency, ttfb, max(0, size - 44) / PCM_BYTES_PER_AUDIO_S)

    def run_block(self, texts: Sequence[str], concurrency: int) -> Block:
        connections = [self.server.connect() for _ in range(concurrency)]
        try:
            server_cpu = self.server.cpu_s()
            workers = [lambda text, c=c: self.request(c, text) for c in connections]
            samples, wall, client_cpu = run_concurrently(workers, texts)
            return Block(samples, wall, self.server.cpu_s() - server_cpu, client_cpu)
        finally:
            for conn in connections:
                conn.close()


# --- the run ---------------------------------------------------------------------------------


@dataclass(slots=True)
class Setup:
    """Everything under test for one settings combination: the sides, in block order."""

    combo: Combo
    settings: Settings
    server: Server
    raw: RawTarget
    targets: list[Target]
    ready_s: float = 0.0
    piper: PiperServerTarget | None = None

    @property
    def reference(self) -> RawTarget:
        """The raw engine one request is compared with: every core per call where measured."""
        for target in self.targets:
            if target.side == RAW_ALL and isinstance(target, RawTarget):
                return target
        return self.raw


@dataclass(slots=True)
class LevelResult:
    combo: str
    concurrency: int
    block_size: int
    sides: dict[str, SideStats]
    #: served requests/s over raw requests/s, all blocks together.
    throughput_ratio: float
    #: The same ratio for each raw/served block pair (same sentences, adjacent in time).
    pair_ratios: list[float]
    #: ``pair_ratios`` of the pairs during which other processes stayed under the threshold.
    quiet_pair_ratios: list[float]
    #: served over raw-capped requests/s, with --raw-capped.
    capped_ratio: float | None
    #: served over Piper's own server requests/s (median of block pairs), when measured.
    piper_ratio: float | None = None

    @property
    def ratio_estimate(self) -> tuple[float, str]:
        """The served/raw throughput ratio least disturbed by other processes, and its basis.

        The median over block pairs resists a burst of foreign load hitting one block; the
        quiet pairs alone are used once there are at least three of them.
        """
        if len(self.quiet_pair_ratios) >= 3:
            return statistics.median(self.quiet_pair_ratios), "median of quiet block pairs"
        return statistics.median(self.pair_ratios), "median of all block pairs"

    @property
    def pair_ratio_quartiles(self) -> tuple[float, float, float]:
        return (percentile(self.pair_ratios, 25), percentile(self.pair_ratios, 50),
                percentile(self.pair_ratios, 75))


@dataclass(slots=True)
class TtfaResult:
    combo: str
    first_segment: str
    segments: int
    quiet_threshold: float
    raw_first_sentence_s: list[float] = field(default_factory=list)
    served_ttfa_s: dict[str, list[float]] = field(default_factory=dict)
    served_total_s: dict[str, list[float]] = field(default_factory=dict)
    #: Served pcm time to first bytes of the first segment posted alone (no segments behind it).
    served_first_sentence_s: list[float] = field(default_factory=list)
    #: Cores other processes kept busy during each run (raw and served requests together).
    run_other_load_cores: list[float] = field(default_factory=list)
    #: The whole paragraph: raw engine (one call), Piper's own server (one WAV).
    raw_paragraph_s: list[float] = field(default_factory=list)
    piper_paragraph_s: list[float] = field(default_factory=list)

    @property
    def quiet_runs(self) -> list[int]:
        """Runs during which other processes stayed quiet; all runs if fewer than three."""
        quiet = [i for i, load in enumerate(self.run_other_load_cores)
                 if load <= self.quiet_threshold]
        return quiet if len(quiet) >= 3 else list(range(len(self.run_other_load_cores)))

    def median(self, values: Sequence[float]) -> float:
        return statistics.median(values[i] for i in self.quiet_runs)

    def ratio(self, response_format: str) -> float:
        raw = self.median(self.raw_first_sentence_s)
        return self.median(self.served_ttfa_s[response_format]) / raw


def served_target(server: Server, client: ClientKind) -> Target:
    return ServedThreadsTarget(server) if client == "threads" else ServedHttpxTarget(server)


def load_engine(settings: Settings, stack: ExitStack) -> PiperEngine:
    engine = PiperEngine(settings)
    engine.load()
    stack.callback(engine.close)
    return engine


def capped_slots(engine: PiperEngine, settings: Settings, stack: ExitStack) -> list[PiperEngine]:
    """What the server synthesizes with: N threads on one engine, or N engine replicas."""
    count = getattr(settings, WORKERS_FIELD)
    if not REPLICAS:
        return [engine] * count
    return [engine] + [load_engine(settings, stack) for _ in range(count - 1)]


@contextmanager
def open_setups(config: Config, workdir: Path) -> Iterator[list[Setup]]:
    """Start one server and load one raw engine per combination (servers start in parallel),
    and Piper's own server (shared by the combinations)."""
    with ExitStack() as stack:
        piper: PiperServerTarget | None = None
        voice = bundled_voice_files()
        if config.piper_server and voice is not None:
            piper = PiperServerTarget(stack.enter_context(
                PiperHttpServer(voice.model_path, log_path=workdir / "piper-server.log")))
        servers = []
        for combo in config.combos:
            name = f"{combo.engine_workers}-{combo.intra_op_threads}"
            server = stack.enter_context(
                Server(workdir / f"data-{name}", combo.env(),
                       log_path=workdir / f"server-{name}.log")
            )
            servers.append((combo, server))
        setups = []
        for combo, server in servers:
            ready_s = server.wait_ready()
            settings = combo.settings(workdir / "raw-data")
            engine = load_engine(settings, stack)
            raw = RawTarget(engine)
            targets: list[Target] = [raw]
            cpus = len(os.sched_getaffinity(0))
            if settings.resolved_piper_intra_op_threads < cpus:
                all_core = combo.settings(workdir / "raw-data").model_copy(
                    update={"piper_intra_op_threads": cpus})
                targets.append(RawTarget(load_engine(all_core, stack), side=RAW_ALL))
            if config.raw_capped:
                targets.append(RawTarget(engine, capped_slots(engine, settings, stack)))
            targets.append(served_target(server, config.client))
            if piper is not None:
                targets.append(piper)
            setups.append(Setup(combo, settings, server, raw, targets, ready_s, piper))
        if piper is not None:
            print(f"piper's own server: ready in {piper.server.wait_ready():.1f} s")
        yield setups


def warm_up(setups: Sequence[Setup], sentences: Sequence[str]) -> None:
    """First requests pay one-off costs (imports, first encoder, connection set-up)."""
    for setup in setups:
        for target in setup.targets:
            target.run_block(sentences[:2], 1)
        conn = setup.server.connect()
        for response_format in TTFA_FORMATS:
            timed_post(conn, speech_body(" ".join(sentences[:2]), response_format))
        conn.close()


def block_texts(sentences: Sequence[str], start: int, count: int) -> list[str]:
    return [sentences[(start + i) % len(sentences)] for i in range(count)]


class NoiseGauge:
    """Measures the CPU other processes take, and waits (within a budget) for them to calm."""

    def __init__(self, setups: Sequence[Setup], threshold_cores: float, budget_s: float) -> None:
        self._setups = setups
        self.threshold_cores = threshold_cores
        self.budget_s = budget_s
        self.waited_s = 0.0

    def _own_cpu_s(self) -> float:
        return time.process_time() + sum(setup.server.cpu_s() for setup in self._setups)

    def snapshot(self) -> tuple[float, float]:
        return machine_busy_s(), self._own_cpu_s()

    def other_cpu_since(self, snapshot: tuple[float, float]) -> float:
        busy, own = snapshot
        return max(0.0, machine_busy_s() - busy - (self._own_cpu_s() - own))

    def run_block(self, target: Target, texts: Sequence[str], concurrency: int) -> Block:
        """Run one block and record how much CPU the rest of the machine took meanwhile."""
        before = self.snapshot()
        block = target.run_block(texts, concurrency)
        block.other_cpu_s = self.other_cpu_since(before)
        return block

    def wait_quiet(self, window_s: float = 1.0) -> None:
        """Sleep while other processes keep more than the threshold busy, budget allowing."""
        while self.waited_s < self.budget_s:
            before = self.snapshot()
            time.sleep(window_s)
            self.waited_s += window_s
            if self.other_cpu_since(before) / window_s <= self.threshold_cores:
                return


def run_rounds(
    setups: Sequence[Setup], sentences: Sequence[str], concurrency: int, config: Config,
    cursor: int, gauge: NoiseGauge,
) -> dict[tuple[int, str], list[Block]]:
    """Every side of every combination runs each round's block, in alternating order."""
    size = config.block_size(concurrency)
    order = [(index, target) for index, setup in enumerate(setups) for target in setup.targets]
    blocks: dict[tuple[int, str], list[Block]] = {}
    for round_index in range(config.rounds(concurrency)):
        texts = block_texts(sentences, cursor + round_index * size, size)
        gauge.wait_quiet()
        for index, target in order if round_index % 2 == 0 else order[::-1]:
            time.sleep(SETTLE_S)
            block = gauge.run_block(target, texts, concurrency)
            blocks.setdefault((index, target.side), []).append(block)
    return blocks


def quiet_pair_ratios(
    raw: Sequence[Block], served: Sequence[Block], threshold_cores: float
) -> list[float]:
    """Per-pair throughput ratios of the pairs during which other processes stayed quiet."""
    return [
        r.wall_s / s.wall_s
        for r, s in zip(raw, served, strict=True)
        if max(r.other_cpu_s / r.wall_s, s.other_cpu_s / s.wall_s) <= threshold_cores
    ]


def measure_level(
    setups: Sequence[Setup], sentences: Sequence[str], concurrency: int, config: Config,
    cursor: int, gauge: NoiseGauge,
) -> list[LevelResult]:
    """All combinations at one concurrency level."""
    blocks = run_rounds(setups, sentences, concurrency, config, cursor, gauge)
    results = []
    for index, setup in enumerate(setups):
        sides = {target.side: SideStats.of(blocks[index, target.side], target.side == SERVED)
                 for target in setup.targets}
        piper_pairs = (
            [p.wall_s / s.wall_s for p, s in zip(blocks[index, PIPER], blocks[index, SERVED],
                                                 strict=True)]
            if PIPER in sides else []
        )
        raw, served = sides[RAW], sides[SERVED]
        pairs = zip(blocks[index, RAW], blocks[index, SERVED], strict=True)
        results.append(LevelResult(
            combo=setup.combo.label,
            concurrency=concurrency,
            block_size=config.block_size(concurrency),
            sides=sides,
            throughput_ratio=served.requests_per_s / raw.requests_per_s,
            pair_ratios=[r.wall_s / s.wall_s for r, s in pairs],
            quiet_pair_ratios=quiet_pair_ratios(
                blocks[index, RAW], blocks[index, SERVED], config.quiet_threshold
            ),
            capped_ratio=(served.requests_per_s / sides[CAPPED].requests_per_s
                          if CAPPED in sides else None),
            piper_ratio=statistics.median(piper_pairs) if piper_pairs else None,
        ))
    return results


def measure_ttfa(
    setups: Sequence[Setup], sentences: Sequence[str], runs: int, gauge: NoiseGauge
) -> list[TtfaResult]:
    """Paragraph of 5 sentences: served time to first body bytes vs raw first-sentence time."""
    paragraph = " ".join(sentences[:PARAGRAPH_SENTENCES])
    segments = prepare_segments(paragraph, setups[0].settings.max_segment_chars)
    results = [TtfaResult(s.combo.label, segments[0], len(segments), gauge.threshold_cores)
               for s in setups]
    for _ in range(runs):
        gauge.wait_quiet()
        for setup, result in zip(setups, results, strict=True):
            before, started = gauge.snapshot(), time.perf_counter()
            reference = setup.reference
            result.raw_first_sentence_s.append(reference.synthesize(segments[0]).latency_s)
            result.raw_paragraph_s.append(reference.synthesize(paragraph).latency_s)
            if setup.piper is not None:
                conn = setup.piper.server.connect()
                result.piper_paragraph_s.append(setup.piper.request(conn, paragraph).latency_s)
                conn.close()
            time.sleep(SETTLE_S)
            conn = setup.server.connect()
            result.served_first_sentence_s.append(timed_post(conn, speech_body(segments[0]))[0])
            conn.close()
            for response_format in TTFA_FORMATS:
                time.sleep(SETTLE_S)
                conn = setup.server.connect()
                ttfb, total, _ = timed_post(conn, speech_body(paragraph, response_format))
                conn.close()
                result.served_ttfa_s.setdefault(response_format, []).append(ttfb)
                result.served_total_s.setdefault(response_format, []).append(total)
            other_load = gauge.other_cpu_since(before) / (time.perf_counter() - started)
            result.run_other_load_cores.append(other_load)
    return results


# --- report ----------------------------------------------------------------------------------


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def _ratio(numerator: float | None, denominator: float | None) -> str:
    return "-" if numerator is None or not denominator else f"{numerator / denominator:.3f}"


_ROWS: tuple[tuple[str, str, float, bool], ...] = (
    # (label, SideStats attribute, scale, with ratios)
    ("requests/s", "requests_per_s", 1.0, True),
    ("audio-s/s", "audio_s_per_s", 1.0, True),
    ("audio-s per request", "audio_s_per_request", 1.0, True),
    ("latency p50 (ms)", "latency_p50_s", 1000.0, True),
    ("latency p95 (ms)", "latency_p95_s", 1000.0, True),
    ("latency p99 (ms)", "latency_p99_s", 1000.0, True),
    ("TTFB p50 (ms)", "ttfb_p50_s", 1000.0, False),
    ("TTFB p95 (ms)", "ttfb_p95_s", 1000.0, False),
    ("engine CPU ms/request", "engine_cpu_ms_per_request", 1.0, True),
    ("client CPU ms/request", "client_cpu_ms_per_request", 1.0, False),
    ("other load (cores)", "other_load_cores", 1.0, False),
)


def _row(label: str, values: Sequence[float | None], ratios: Sequence[str]) -> str:
    digits = 1 if "ms" in label else 3
    cells = "".join(f"{_fmt(v, digits):>11}" for v in values)
    return f"{label:23}{cells}" + "".join(f"{r:>14}" for r in ratios)


def print_level(result: LevelResult, quiet_threshold: float) -> None:
    sides = result.sides
    names = list(sides)
    served = sides[SERVED]
    print(f"\n== {result.concurrency} concurrent client(s) | {result.combo} | "
          f"{served.requests} requests per side, {len(result.pair_ratios)} block pairs "
          f"of {result.block_size} ==")
    ratio_names = (["served/raw"] + (["served/capped"] if CAPPED in sides else [])
                   + (["served/allcore"] if RAW_ALL in sides else [])
                   + (["served/piper"] if PIPER in sides else []))
    print(f"{'':23}" + "".join(f"{n:>11}" for n in names)
          + "".join(f"{n:>14}" for n in ratio_names))
    ratio_bases = ([sides[RAW]] + ([sides[CAPPED]] if CAPPED in sides else [])
                   + ([sides[RAW_ALL]] if RAW_ALL in sides else [])
                   + ([sides[PIPER]] if PIPER in sides else []))
    for label, attribute, scale, with_ratios in _ROWS:
        values = [_scaled(getattr(sides[n], attribute), scale) for n in names]
        ratios = [_ratio(getattr(served, attribute), getattr(base, attribute))
                  if with_ratios else "" for base in ratio_bases]
        print(_row(label, values, ratios))
    q1, median, q3 = result.pair_ratio_quartiles
    quiet = result.quiet_pair_ratios
    quiet_median = f"median {statistics.median(quiet):.3f}" if quiet else "no median"
    print(f"block pairs: all {len(result.pair_ratios)}: median {median:.3f}, quartiles "
          f"{q1:.3f}-{q3:.3f}; quiet (other load <= {quiet_threshold} cores) {len(quiet)}: "
          f"{quiet_median}; all blocks summed: {result.throughput_ratio:.3f}")
    estimate, basis = result.ratio_estimate
    verdict = "ok" if estimate >= TARGET_THROUGHPUT_RATIO else "BELOW TARGET"
    print(f"ratio served/raw throughput: {estimate:.3f} ({basis}; "
          f"target >= {TARGET_THROUGHPUT_RATIO}: {verdict})")
    if result.capped_ratio is not None:
        print(f"ratio served/raw-capped throughput: {result.capped_ratio:.3f} "
              "(serving overhead alone)")
    if RAW_ALL in sides:
        best = max(sides[RAW].requests_per_s, sides[RAW_ALL].requests_per_s)
        print(f"ratio served/best raw layout throughput: {served.requests_per_s / best:.3f} "
              f"(all blocks summed; raw one thread per call vs every core per call; issue 17 "
              f"target >= 0.97 at c>=2); served/raw all-core latency p50: "
              f"{served.latency_p50_s / sides[RAW_ALL].latency_p50_s:.3f} (c=1 target <= 1.05)")
    if result.piper_ratio is not None:
        target = TARGET_PIPER_RATIO_C1 if result.concurrency == 1 else 1.0
        verdict = "ok" if result.piper_ratio >= target else "BELOW TARGET"
        print(f"ratio served/Piper-server throughput: {result.piper_ratio:.3f} (median of block "
              f"pairs; target >= {target}: {verdict})")
    share = served.client_cpu_share or 0.0
    print(f"client CPU: {100 * share:.1f}% of the machine's CPU time during the served blocks")


def _scaled(value: float | None, scale: float) -> float | None:
    return None if value is None else value * scale


def print_ttfa(result: TtfaResult) -> None:
    raw = result.median(result.raw_first_sentence_s)
    print(f"\n== time to first audio, {PARAGRAPH_SENTENCES}-sentence paragraph "
          f"({result.segments} segments) | {result.combo} | median of "
          f"{len(result.quiet_runs)} of {len(result.raw_first_sentence_s)} runs (the quiet ones "
          f"if at least 3) ==")
    print(f"{'raw engine, first sentence alone':38}{1000 * raw:7.1f} ms")
    alone = result.median(result.served_first_sentence_s)
    print(f"{'served pcm, first sentence alone':38}{1000 * alone:7.1f} ms   "
          f"ratio {alone / raw:.3f} (nothing queued behind it)")
    for response_format in TTFA_FORMATS:
        ttfa = result.median(result.served_ttfa_s[response_format])
        total = result.median(result.served_total_s[response_format])
        ratio = result.ratio(response_format)
        verdict = "ok" if ratio <= TARGET_TTFA_RATIO else "ABOVE TARGET"
        label = f"served {response_format}, paragraph's first bytes"
        print(f"{label:38}{1000 * ttfa:7.1f} ms   ratio {ratio:.3f} "
              f"(target <= {TARGET_TTFA_RATIO}: {verdict}); whole paragraph {1000 * total:.0f} ms")
    served_total = result.median(result.served_total_s["pcm"])
    raw_paragraph = result.median(result.raw_paragraph_s)
    print(f"{'raw engine, whole paragraph':38}{1000 * raw_paragraph:7.1f} ms   served pcm/raw "
          f"{served_total / raw_paragraph:.3f} (target <= 1.05)")
    if result.piper_paragraph_s:
        piper = result.median(result.piper_paragraph_s)
        print(f"{'Piper server, whole paragraph':38}{1000 * piper:7.1f} ms   served pcm/Piper "
              f"{served_total / piper:.3f}")


def _grid_cell(result: LevelResult) -> str:
    served = result.sides[SERVED]
    return (f"{served.requests_per_s:.2f} ({result.ratio_estimate[0]:.2f}) "
            f"{served.engine_cpu_ms_per_request:.0f}")


def print_summary(levels: Sequence[LevelResult], ttfa: Sequence[TtfaResult]) -> dict[str, str]:
    """Grid of served throughput per combination and level; the best combination per level."""
    clients = sorted({r.concurrency for r in levels})
    combos = list(dict.fromkeys(r.combo for r in levels))
    by_key = {(r.combo, r.concurrency): r for r in levels}
    ttfa_by_combo = {t.combo: t for t in ttfa}
    print("\n== summary: served requests/s (served/raw ratio) server CPU ms/request; "
          "TTFA ratios ==")
    print(f"{'settings':20}" + "".join(f"{f'C={c}':>20}" for c in clients)
          + "".join(f"{f'TTFA {f}':>10}" for f in TTFA_FORMATS))
    for combo in combos:
        cells = "".join(f"{_grid_cell(by_key[combo, c]):>20}" for c in clients)
        ttfa_cells = "".join(f"{ttfa_by_combo[combo].ratio(f):>10.2f}" for f in TTFA_FORMATS)
        print(f"{combo:20}{cells}{ttfa_cells}")
    best = {}
    for c in clients:
        winner = max((by_key[combo, c] for combo in combos),
                     key=lambda r: r.sides[SERVED].requests_per_s)
        best[str(c)] = winner.combo
        print(f"best served throughput at C={c}: {winner.combo} "
              f"({winner.sides[SERVED].requests_per_s:.2f} req/s, "
              f"served/raw {winner.ratio_estimate[0]:.3f})")
    if len(combos) > 1:
        print("(combinations share every round, but other processes' load still differs "
              "between their blocks: check 'other load' and CPU ms/request before trusting "
              "a small difference)")
    return best


def environment_info() -> dict[str, Any]:
    return {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "onnxruntime": onnxruntime.__version__,
        "platform": platform.platform(),
        "loadavg_start": os.getloadavg(),
    }


def print_header(config: Config, info: dict[str, Any], sentences: int) -> None:
    sides = "raw, raw-capped, served" if config.raw_capped else "raw, served"
    sides += ", Piper's own server" if config.piper_server else ""
    print(f"voxserve serving benchmark: {sentences} Harvard sentences; clients "
          f"{','.join(map(str, config.clients))}; ~{config.requests} requests per side per "
          f"level; sides: {sides}; client: {config.client}")
    print(f"settings: {'; '.join(c.label for c in config.combos)} "
          f"(VOXSERVE_{WORKERS_FIELD.upper()}, VOXSERVE_PIPER_INTRA_OP_THREADS)")
    print(f"machine: {info['cpu_count']} CPUs, load average {info['loadavg_start'][0]:.2f}, "
          f"python {info['python']}, onnxruntime {info['onnxruntime']}")


def run(config: Config) -> dict[str, Any]:
    sentences = load_sentences()
    info = environment_info()
    print_header(config, info, len(sentences))
    started = time.perf_counter()
    levels: list[LevelResult] = []
    with tempfile.TemporaryDirectory(prefix="voxserve-bench-") as tmp, \
            open_setups(config, Path(tmp)) as setups:
        for setup in setups:
            print(f"server {setup.combo.label}: ready in {setup.ready_s:.1f} s")
        warm_up(setups, sentences)
        gauge = NoiseGauge(setups, config.quiet_threshold, config.quiet_wait_s)
        cursor = 0
        for concurrency in config.clients:
            results = measure_level(setups, sentences, concurrency, config, cursor, gauge)
            cursor += config.block_size(concurrency) * config.rounds(concurrency)
            for result in results:
                print_level(result, config.quiet_threshold)
            levels += results
        ttfa = measure_ttfa(setups, sentences, config.ttfa_runs, gauge)
        for result in ttfa:
            print_ttfa(result)
    best = print_summary(levels, ttfa)
    info["loadavg_end"] = os.getloadavg()
    elapsed = time.perf_counter() - started
    info["quiet_waited_s"] = gauge.waited_s
    print(f"\ndone in {elapsed:.0f} s ({gauge.waited_s:.0f} s of it waiting for other processes "
          f"to go quiet); load average now {info['loadavg_end'][0]:.2f}")
    return {
        "config": {**asdict(config), "json_path": str(config.json_path)},
        "environment": info,
        "elapsed_s": elapsed,
        "levels": [{**asdict(r), "pair_ratio_quartiles": r.pair_ratio_quartiles,
                    "ratio_estimate": r.ratio_estimate}
                   for r in levels],
        "ttfa": [{**asdict(t), "quiet_runs": t.quiet_runs,
                  "ratio": {f: t.ratio(f) for f in TTFA_FORMATS}} for t in ttfa],
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
