"""Maya1 benchmark: time to first audio, and how many concurrent streams stay real-time.

How to run on a GPU: put the weights in local directories (``maya-research/maya1`` in
transformers layout, ``hubertsiuzdak/snac_24khz`` as config.json + pytorch_model.bin),
install the ``maya1`` extra (and ``vllm`` for ``--backend vllm``), then run

    .venv/bin/python bench/maya1.py --model-dir /models/maya1 --snac-dir /models/snac_24khz \\
        --backend vllm --requests 20 --max-streams 64 --json bench/results/maya1-vllm.json

on the GPU host (pick the GPU with ``CUDA_VISIBLE_DEVICES``). The engine is used in-process,
as the server uses it, without HTTP. First, ``--requests`` sentences are spoken one after
another: time to first audio (TTFA, from the call to the first chunk) p50/p95. Then the
concurrency ramps 1, 2, 4, … : at each level that many streams start together, each speaking
one sentence, and a stream's rate is its audio seconds divided by the seconds from its start
to its last chunk. The ramp stops at the first level where the slowest stream's rate is
below 1.0; the level before is the number of concurrent streams that stay real-time. The
transformers backend generates each stream on its own (one sequence per model call), so
expect far fewer real-time streams there than with vLLM's continuous batching.

Smoke test on the CPU with tiny random models (seconds, numbers meaningless):

    .venv/bin/python -m tests.unit.maya1.tiny_models /tmp/maya1-tiny
    .venv/bin/python bench/maya1.py --model-dir /tmp/maya1-tiny/maya1 \\
        --snac-dir /tmp/maya1-tiny/snac --allow-cpu --requests 3 --max-streams 2 \\
        --max-new-tokens 56
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from harness import load_sentences
from harness import percentile_nearest_rank as percentile
from voxserve.engines.base import SynthesisParams
from voxserve.engines.maya1 import Maya1Engine
from voxserve.engines.maya1.device import resolve_device
from voxserve.settings import Settings


@dataclass(frozen=True, slots=True)
class StreamResult:
    """One synthesized sentence."""

    ttfa_s: float
    wall_s: float
    audio_s: float

    @property
    def rate(self) -> float:
        """Audio seconds per wall second (≥ 1.0: real-time)."""
        return self.audio_s / self.wall_s if self.wall_s > 0 else float("inf")


@dataclass(frozen=True, slots=True)
class LevelReport:
    """The streams of one concurrency level."""

    streams: int
    ttfa_p50_s: float
    ttfa_p95_s: float
    rate_min: float
    rate_p50: float

    @property
    def real_time(self) -> bool:
        return self.rate_min >= 1.0


def speak(engine: Maya1Engine, text: str, voice: str) -> StreamResult:
    """Stream one sentence; times are measured from the ``synthesize`` call."""
    start = time.perf_counter()
    first = last = start
    samples = 0
    sample_rate_hz = 24000
    for chunk in engine.synthesize(text, voice, SynthesisParams()):
        last = time.perf_counter()
        if samples == 0:
            first = last
        samples += len(chunk.samples)
        sample_rate_hz = chunk.sample_rate_hz
    return StreamResult(first - start, last - start, samples / sample_rate_hz)


def run_level(engine: Maya1Engine, sentences: Sequence[str], voice: str, streams: int
              ) -> LevelReport:
    """``streams`` sentences spoken at the same time, one thread each."""
    results: list[StreamResult | BaseException] = [RuntimeError("not run")] * streams
    barrier = threading.Barrier(streams)

    def worker(index: int) -> None:
        barrier.wait()
        try:
            results[index] = speak(engine, sentences[index % len(sentences)], voice)
        except BaseException as exc:  # reported by the main thread
            results[index] = exc

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(streams)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done = []
    for result in results:
        if isinstance(result, BaseException):
            raise result
        done.append(result)
    ttfas = [r.ttfa_s for r in done]
    rates = [r.rate for r in done]
    return LevelReport(streams, percentile(ttfas, 50), percentile(ttfas, 95), min(rates),
                       percentile(rates, 50))


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0] if __doc__ else "")
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--snac-dir", type=Path, required=True)
    parser.add_argument("--backend", choices=("transformers", "vllm"), default="transformers")
    parser.add_argument("--device", default="auto", help="auto, cuda, cuda:1, cpu")
    parser.add_argument("--dtype", default="auto",
                        choices=("auto", "float32", "bfloat16", "float16"))
    parser.add_argument("--voice", default="maya1-warm")
    parser.add_argument("--requests", type=_positive, default=20, help="sequential TTFA requests")
    parser.add_argument("--max-streams", type=_positive, default=64, help="ramp ceiling")
    parser.add_argument("--max-new-tokens", type=int, default=2048)
    parser.add_argument("--allow-cpu", action="store_true",
                        help="run on the CPU (a smoke test; the figures mean nothing)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    device, dtype = resolve_device(args.device, args.dtype)
    if device.type == "cpu" and not args.allow_cpu:
        print("maya1 bench: no CUDA device; pass --allow-cpu for a CPU smoke run",
              file=sys.stderr)
        return 2
    settings = Settings(
        engines=["maya1"], maya1_model_dir=args.model_dir, maya1_snac_dir=args.snac_dir,
        maya1_backend=args.backend, maya1_device=args.device, maya1_dtype=args.dtype,
        maya1_max_new_tokens=args.max_new_tokens,
    )
    sentences = load_sentences()
    engine = Maya1Engine(settings)
    started = time.perf_counter()
    engine.load()
    load_s = time.perf_counter() - started
    print(f"maya1 {args.backend} on {device} ({dtype}): loaded in {load_s:.1f} s", flush=True)
    try:
        sequential = [speak(engine, sentences[i % len(sentences)], args.voice)
                      for i in range(args.requests)]
        ttfas = [r.ttfa_s for r in sequential]
        print(f"TTFA over {len(ttfas)} sequential requests: p50 {percentile(ttfas, 50):.3f} s, "
              f"p95 {percentile(ttfas, 95):.3f} s; rate p50 "
              f"{percentile([r.rate for r in sequential], 50):.2f}x real-time", flush=True)
        levels: list[LevelReport] = []
        streams = 1
        while streams <= args.max_streams:
            level = run_level(engine, sentences, args.voice, streams)
            levels.append(level)
            print(f"{streams:4d} streams: TTFA p50 {level.ttfa_p50_s:.3f} s p95 "
                  f"{level.ttfa_p95_s:.3f} s, rate min {level.rate_min:.2f} p50 "
                  f"{level.rate_p50:.2f}", flush=True)
            if not level.real_time:
                break
            streams *= 2
    finally:
        engine.close()
    real_time = max((lvl.streams for lvl in levels if lvl.real_time), default=0)
    print(f"real-time concurrent streams: {real_time}"
          + (" (ramp ceiling reached)" if levels and levels[-1].real_time else ""))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "backend": args.backend, "device": str(device), "dtype": str(dtype),
            "machine": platform.platform(), "load_s": load_s,
            "ttfa_p50_s": percentile(ttfas, 50), "ttfa_p95_s": percentile(ttfas, 95),
            "sequential": [asdict(r) for r in sequential],
            "levels": [{**asdict(lvl), "real_time": lvl.real_time} for lvl in levels],
            "real_time_streams": real_time,
        }, indent=2), "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
