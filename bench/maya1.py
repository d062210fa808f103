"""Maya1 benchmark: time to first audio, tokens/s, and how many streams stay real-time.

A stream counts only if its audio is plausible speech output and plays without a gap:

* **EOS reached**: the model ended the speech itself (``voxserve_maya1_segments_total``
  ``end="eos"`` rises by one per stream; a stream cut by ``--max-new-tokens`` is noise
  from a broken prompt or model, however fast it came);
* **frames per sentence** within ``--min-frames-per-char`` … ``--max-frames-per-char`` × the
  sentence's characters (a Harvard sentence is ~25–40 frames of 85 ms, not 292);
* **no underrun**: playback starts ``--prebuffer-ms`` after the first chunk and every later
  chunk must arrive before playback reaches it.

Phases: ``--requests`` sentences one after another (TTFA, tokens/s); then **bursts** of
1, 2, 4, … streams started together up to ``--max-streams``; then **Poisson arrivals** at
each of ``--rates`` streams/s (``--poisson-streams`` arrivals per rate). A level passes when
every stream passes; each ramp stops at its first failing level. SNAC batch sizes (windows per
decode call) are read off the metrics per level.

In-process (the engine as the server uses it), or ``--through-server``: a ``voxserve serve``
process (``bench/harness.py``'s ``Server``) with the model's replicas sharing one model, one
replica per stream (``--max-streams``), no batching of whole segments, and every request
streamed over HTTP as raw PCM.

On a GPU host, with the weights in local directories and the ``maya1`` (plus
``maya1-vllm``) extras installed:

    .venv/bin/python bench/maya1.py --model-dir /models/maya1 --snac-dir /models/snac_24khz \\
        --backend vllm --requests 20 --max-streams 64 --rates 1,2,4,8,16 \\
        --json bench/results/maya1-vllm.json [--through-server]

Smoke run on the CPU with tiny random models (they never reach EOS: ``--no-sanity``):

    .venv/bin/python -m tests.unit.maya1.tiny_models /tmp/maya1-tiny
    .venv/bin/python bench/maya1.py --model-dir /tmp/maya1-tiny/maya1 \\
        --snac-dir /tmp/maya1-tiny/snac --allow-cpu --no-sanity --requests 3 \\
        --max-streams 2 --rates 2 --poisson-streams 3 --max-new-tokens 56
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any, Protocol

from harness import Server, load_sentences
from harness import percentile_nearest_rank as percentile

SAMPLE_RATE_HZ = 24000
SAMPLES_PER_FRAME = 2048
FRAME_TOKENS = 7


# --- one stream -----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class StreamResult:
    """One spoken sentence, timed from the request."""

    chars: int
    ttfa_s: float
    wall_s: float
    audio_s: float
    #: Frames the model generated (streaming plays all but the first, warm-up, frame).
    frames: int
    underruns: int
    #: Least time a chunk arrived before playback needed it (negative: an underrun).
    min_slack_s: float

    @property
    def tokens_per_s(self) -> float:
        return FRAME_TOKENS * self.frames / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def rate(self) -> float:
        """Audio seconds per wall second."""
        return self.audio_s / self.wall_s if self.wall_s > 0 else float("inf")


def playback_check(arrivals: Sequence[tuple[float, int]], prebuffer_s: float,
                   rate_hz: int = SAMPLE_RATE_HZ) -> tuple[int, float]:
    """``(underruns, min slack)`` of chunks given as (arrival time, first sample index):
    playback starts ``prebuffer_s`` after the first chunk arrives and never waits."""
    if not arrivals:
        return 0, 0.0
    start = arrivals[0][0] + prebuffer_s
    slacks = [start + first / rate_hz - arrived for arrived, first in arrivals[1:]]
    return sum(slack < 0 for slack in slacks), min(slacks, default=prebuffer_s)


def stream_result(text: str, started: float, arrivals: Sequence[tuple[float, int]],
                  samples: int, prebuffer_s: float) -> StreamResult:
    if not arrivals:
        raise RuntimeError(f"no audio for {text!r}")
    underruns, slack = playback_check(arrivals, prebuffer_s)
    frames = round(samples / SAMPLES_PER_FRAME) + 1
    return StreamResult(len(text), arrivals[0][0] - started, arrivals[-1][0] - started,
                        samples / SAMPLE_RATE_HZ, frames, underruns, slack)


class Speaker(Protocol):
    def speak(self, text: str) -> StreamResult: ...

    def counters(self) -> dict[str, float]: ...


COUNTERS = {
    "eos": ("voxserve_maya1_segments_total", {"end": "eos"}),
    "max_tokens": ("voxserve_maya1_segments_total", {"end": "max_tokens"}),
    "snac_windows": ("voxserve_maya1_snac_batch_windows_sum", {}),
    "snac_calls": ("voxserve_maya1_snac_batch_windows_count", {}),
}


class InProcess:
    """The engine in this process, as the server's replicas call it."""

    def __init__(self, engine: Any, voice: str, prebuffer_s: float) -> None:
        from voxserve.engines.base import SynthesisParams

        self._engine, self._voice, self._prebuffer_s = engine, voice, prebuffer_s
        self._params = SynthesisParams()

    def speak(self, text: str) -> StreamResult:
        started = time.perf_counter()
        arrivals, samples = [], 0
        for chunk in self._engine.synthesize(text, self._voice, self._params):
            arrivals.append((time.perf_counter(), samples))
            samples += len(chunk.samples)
        return stream_result(text, started, arrivals, samples, self._prebuffer_s)

    def counters(self) -> dict[str, float]:
        from prometheus_client import REGISTRY

        return {key: REGISTRY.get_sample_value(name, labels) or 0.0
                for key, (name, labels) in COUNTERS.items()}


class ThroughServer:
    """A ``voxserve serve`` process: each stream one HTTP request, read as it arrives."""

    def __init__(self, server: Server, voice: str, prebuffer_s: float) -> None:
        self._server, self._voice, self._prebuffer_s = server, voice, prebuffer_s

    def speak(self, text: str) -> StreamResult:
        body = json.dumps({"model": "maya1", "voice": self._voice, "input": text,
                           "response_format": "pcm"})
        connection = self._server.connect()
        try:
            started = time.perf_counter()
            connection.request("POST", "/v1/audio/speech", body,
                               {"Content-Type": "application/json",
                                "X-Voxserve-Cache": "bypass"})
            response = connection.getresponse()
            if response.status != 200:
                raise RuntimeError(f"HTTP {response.status}: {response.read()[:300]!r}")
            arrivals, received = [], 0
            while data := response.read1(64 * 1024):
                arrivals.append((time.perf_counter(), received // 2))
                received += len(data)
        finally:
            connection.close()
        return stream_result(text, started, arrivals, received // 2, self._prebuffer_s)

    def counters(self) -> dict[str, float]:
        from prometheus_client.parser import text_string_to_metric_families

        status, page = self._server.request("GET", "/metrics")
        if status != 200:
            raise RuntimeError(f"/metrics answered {status}")
        samples = [s for family in text_string_to_metric_families(page.decode())
                   for s in family.samples]
        return {key: sum(s.value for s in samples
                         if s.name == name and all(s.labels.get(k) == v
                                                   for k, v in labels.items()))
                for key, (name, labels) in COUNTERS.items()}


# --- levels ----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Sanity:
    max_new_tokens: int
    min_frames_per_char: float
    max_frames_per_char: float
    #: Off for random test models: problems are reported but do not fail a level.
    enforce: bool = True

    def problems(self, results: Sequence[StreamResult], counters: dict[str, float]
                 ) -> list[str]:
        found = []
        if counters["eos"] < len(results):
            found.append(f"EOS reached by {counters['eos']:.0f} of {len(results)} streams")
        for r in results:
            low, high = self.min_frames_per_char * r.chars, self.max_frames_per_char * r.chars
            if not low <= r.frames <= high:
                found.append(f"{r.frames} frames for {r.chars} characters "
                             f"(expected {low:.0f}–{high:.0f})")
                break
        return found


@dataclass(slots=True)
class LevelReport:
    kind: str
    #: Streams started together (burst), or arrivals per second (poisson).
    load: float
    results: list[StreamResult]
    counters: dict[str, float]
    problems: list[str] = field(default_factory=list)
    wall_s: float = 0.0

    @property
    def underruns(self) -> int:
        return sum(r.underruns > 0 for r in self.results)

    @property
    def passed(self) -> bool:
        return not self.problems and self.underruns == 0

    @property
    def snac_windows_per_call(self) -> float:
        calls = self.counters["snac_calls"]
        return self.counters["snac_windows"] / calls if calls else 0.0

    @property
    def mean_concurrency(self) -> float:
        """Streams in flight on average (their total time over the level's time)."""
        return sum(r.wall_s for r in self.results) / self.wall_s if self.wall_s else 0.0

    def summary(self) -> dict[str, Any]:
        ttfa = [r.ttfa_s for r in self.results]
        return {
            "kind": self.kind, "load": self.load, "streams": len(self.results),
            "passed": self.passed, "problems": self.problems,
            "streams_with_underrun": self.underruns,
            "ttfa_p50_s": percentile(ttfa, 50), "ttfa_p95_s": percentile(ttfa, 95),
            "tokens_per_s_p50": percentile([r.tokens_per_s for r in self.results], 50),
            "rate_min": min(r.rate for r in self.results),
            "min_slack_s": min(r.min_slack_s for r in self.results),
            "frames_p50": percentile([float(r.frames) for r in self.results], 50),
            "eos_segments": self.counters["eos"],
            "max_token_segments": self.counters["max_tokens"],
            "snac_windows_per_call": self.snac_windows_per_call,
            "mean_concurrency": self.mean_concurrency,
            "results": [{**asdict(r), "tokens_per_s": r.tokens_per_s} for r in self.results],
        }


def run_level(speaker: Speaker, kind: str, load: float, starts_s: Sequence[float],
              sentences: Sequence[str], sanity: Sanity) -> LevelReport:
    """One stream per start time (seconds from now), each in its own thread."""
    before = speaker.counters()
    results: list[StreamResult | BaseException] = [RuntimeError("not run")] * len(starts_s)
    origin = time.perf_counter() + 0.05

    def worker(index: int) -> None:
        time.sleep(max(0.0, origin + starts_s[index] - time.perf_counter()))
        try:
            results[index] = speaker.speak(sentences[index % len(sentences)])
        except BaseException as exc:  # reported by the main thread
            results[index] = exc

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(starts_s))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done = []
    for result in results:
        if isinstance(result, BaseException):
            raise result
        done.append(result)
    return _finish(speaker, LevelReport(kind, load, done, before,
                                        wall_s=time.perf_counter() - origin), sanity)


def run_sequential(speaker: Speaker, count: int, sentences: Sequence[str], sanity: Sanity
                   ) -> LevelReport:
    """``count`` sentences, each once the one before has ended."""
    before = speaker.counters()
    origin = time.perf_counter()
    results = [speaker.speak(sentences[i % len(sentences)]) for i in range(count)]
    return _finish(speaker, LevelReport("sequential", 1, results, before,
                                        wall_s=time.perf_counter() - origin), sanity)


def _finish(speaker: Speaker, level: LevelReport, sanity: Sanity) -> LevelReport:
    """Turn the counters read before the level into its deltas; judge and print it."""
    after = speaker.counters()
    level.counters = {key: after[key] - level.counters[key] for key in after}
    problems = sanity.problems(level.results, level.counters)
    level.problems = problems if sanity.enforce else []
    _print_level(level, problems if sanity.enforce else [f"not enforced: {p}"
                                                         for p in problems])
    return level


def _print_level(level: LevelReport, problems: list[str]) -> None:
    s = level.summary()
    load = {"burst": f" of {level.load:g} at once", "poisson": f" at {level.load:g}/s"}.get(
        level.kind, ", one at a time")
    print(f"{level.kind}{load}: {s['streams']} streams, TTFA p50 "
          f"{s['ttfa_p50_s']:.3f} s p95 {s['ttfa_p95_s']:.3f} s, {s['tokens_per_s_p50']:.0f} "
          f"tokens/s per stream, rate min {s['rate_min']:.2f}, underruns "
          f"{s['streams_with_underrun']}, frames p50 {s['frames_p50']:.0f}, EOS "
          f"{s['eos_segments']:.0f}/{s['streams']}, SNAC {s['snac_windows_per_call']:.1f} "
          f"windows/call, concurrency {s['mean_concurrency']:.1f}"
          + ("" if level.passed else " -> FAILED")
          + (f" [{'; '.join(problems)}]" if problems else ""), flush=True)


def ramp(make_level: Callable[[float], LevelReport], loads: Sequence[float]
         ) -> list[LevelReport]:
    levels = []
    for load in loads:
        levels.append(make_level(load))
        if not levels[-1].passed:
            break
    return levels


def poisson_starts(rate: float, count: int, rng: random.Random) -> list[float]:
    """Arrival times of a Poisson process of ``rate`` per second."""
    times, now = [], 0.0
    for _ in range(count):
        times.append(now)
        now += rng.expovariate(rate)
    return times


# --- command line ----------------------------------------------------------------------------

def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _rates(text: str) -> list[float]:
    rates = [float(part) for part in text.split(",") if part.strip()]
    if not rates or any(r <= 0 for r in rates):
        raise argparse.ArgumentTypeError("rates are positive numbers, comma-separated")
    return rates


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0] if __doc__ else "")
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--snac-dir", type=Path, required=True)
    parser.add_argument("--backend", choices=("transformers", "vllm"), default="transformers")
    parser.add_argument("--device", default="auto", help="auto, cuda, cuda:1, cpu")
    parser.add_argument("--dtype", default="auto",
                        choices=("auto", "float32", "bfloat16", "float16"))
    parser.add_argument("--quantization", choices=("none", "int8"), default="none",
                        help="weight-only INT8 of the transformers backend (torchao)")
    parser.add_argument("--vllm-quantization", help="vLLM's quantization method, e.g. fp8")
    parser.add_argument("--through-server", action="store_true",
                        help="stream over HTTP from a voxserve serve process")
    parser.add_argument("--voice", default="maya1-warm")
    parser.add_argument("--requests", type=_positive, default=20, help="sequential requests")
    parser.add_argument("--max-streams", type=_positive, default=64, help="burst ceiling")
    parser.add_argument("--rates", type=_rates, default=[0.5, 1, 2, 4, 8, 16],
                        help="Poisson arrival rates, streams/s, comma-separated")
    parser.add_argument("--poisson-streams", type=_positive, default=32,
                        help="arrivals per Poisson rate")
    parser.add_argument("--seed", type=int, default=0, help="arrival times")
    parser.add_argument("--max-new-tokens", type=int, default=2048)
    parser.add_argument("--prebuffer-ms", type=float, default=200.0,
                        help="audio a player buffers before it starts")
    parser.add_argument("--min-frames-per-char", type=float, default=0.25)
    parser.add_argument("--max-frames-per-char", type=float, default=2.0)
    parser.add_argument("--no-sanity", action="store_true",
                        help="report EOS and frame counts without failing levels on them "
                             "(random test models never end their speech)")
    parser.add_argument("--allow-cpu", action="store_true",
                        help="run on the CPU (a smoke test; the figures mean nothing)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    return parser.parse_args(argv)


def _settings_env(args: argparse.Namespace) -> dict[str, str]:
    env = {
        "VOXSERVE_MAYA1_MODEL_DIR": str(args.model_dir),
        "VOXSERVE_MAYA1_SNAC_DIR": str(args.snac_dir),
        "VOXSERVE_MAYA1_BACKEND": args.backend, "VOXSERVE_MAYA1_DEVICE": args.device,
        "VOXSERVE_MAYA1_DTYPE": args.dtype, "VOXSERVE_MAYA1_QUANTIZATION": args.quantization,
        "VOXSERVE_MAYA1_MAX_NEW_TOKENS": str(args.max_new_tokens),
    }
    if args.vllm_quantization:
        env["VOXSERVE_MAYA1_VLLM_QUANTIZATION"] = args.vllm_quantization
    return env


def _server_env(args: argparse.Namespace) -> dict[str, str]:
    """One replica per stream (sharing one model), whole-segment batching off, no limits."""
    overrides = {"maya1": {"replicas": max(args.max_streams, 1), "max_batch_size": 1,
                           "queue_budget_ms": 3_600_000, "max_queue_segments": 100_000}}
    return {
        **_settings_env(args), "VOXSERVE_ENGINES": "maya1", "VOXSERVE_DEFAULT_MODEL": "maya1",
        "VOXSERVE_DEFAULT_VOICE": args.voice, "VOXSERVE_CACHE_URL": "none",
        "VOXSERVE_ENGINE_OVERRIDES": json.dumps(overrides),
        "VOXSERVE_RATE_LIMIT_REQUESTS_PER_MINUTE": "0",
        "VOXSERVE_RATE_LIMIT_CHARS_PER_MINUTE": "0",
        "VOXSERVE_RATE_LIMIT_CONCURRENT_STREAMS": "0",
    }


def run(args: argparse.Namespace, speaker: Speaker, describe: dict[str, Any]) -> dict[str, Any]:
    sentences = load_sentences()
    sanity = Sanity(args.max_new_tokens, args.min_frames_per_char, args.max_frames_per_char,
                    enforce=not args.no_sanity)
    sequential = run_sequential(speaker, args.requests, sentences, sanity)
    loads = [float(2 ** i) for i in range(args.max_streams.bit_length())
             if 2 ** i <= args.max_streams]
    bursts = ramp(lambda n: run_level(speaker, "burst", n, [0.0] * int(n), sentences, sanity),
                  loads)
    rng = random.Random(args.seed)
    poisson = ramp(lambda rate: run_level(
        speaker, "poisson", rate, poisson_starts(rate, args.poisson_streams, rng), sentences,
        sanity), args.rates)
    real_time = max((lvl.load for lvl in bursts if lvl.passed), default=0)
    sustained = max((lvl.load for lvl in poisson if lvl.passed), default=0)
    print(f"real-time concurrent streams (burst): {real_time:g}"
          + (" (ceiling reached)" if bursts and bursts[-1].passed else ""))
    print(f"sustained Poisson arrivals: {sustained:g} streams/s"
          + (" (highest rate tried)" if poisson and poisson[-1].passed else ""))
    return {
        **describe, "sanity_enforced": sanity.enforce, "prebuffer_ms": args.prebuffer_ms,
        "sequential": sequential.summary(), "bursts": [lvl.summary() for lvl in bursts],
        "poisson": [lvl.summary() for lvl in poisson],
        "real_time_streams": real_time, "sustained_rate_per_s": sustained,
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    from voxserve.engines.maya1.device import resolve_device

    device, dtype = resolve_device(args.device, args.dtype, backend=args.backend)
    if device.type == "cpu" and not args.allow_cpu:
        print("maya1 bench: no CUDA device; pass --allow-cpu for a CPU smoke run",
              file=sys.stderr)
        return 2
    describe = {"backend": args.backend, "device": str(device), "dtype": str(dtype),
                "quantization": args.quantization, "vllm_quantization": args.vllm_quantization,
                "through_server": args.through_server, "machine": platform.platform()}
    prebuffer_s = args.prebuffer_ms / 1000
    started = time.perf_counter()
    if args.through_server:
        with (TemporaryDirectory(prefix="maya1-bench-") as scratch,
              Server(Path(scratch) / "data", _server_env(args),
                     log_path=Path(scratch) / "server.log") as server):
            server.wait_ready(timeout_s=1800)
            describe["load_s"] = time.perf_counter() - started
            print(f"maya1 {args.backend} server on {device}: ready in "
                  f"{describe['load_s']:.1f} s", flush=True)
            report = run(args, ThroughServer(server, args.voice, prebuffer_s), describe)
    else:
        from voxserve.engines.maya1 import Maya1Engine
        from voxserve.settings import Settings

        engine = Maya1Engine(Settings(engines=["maya1"], **{
            key.removeprefix("VOXSERVE_").lower(): value
            for key, value in _settings_env(args).items()}))
        engine.load()
        describe["load_s"] = time.perf_counter() - started
        print(f"maya1 {args.backend} on {device} ({dtype}): loaded in "
              f"{describe['load_s']:.1f} s", flush=True)
        try:
            report = run(args, InProcess(engine, args.voice, prebuffer_s), describe)
        finally:
            engine.close()
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2), "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
