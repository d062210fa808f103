"""gRPC vs HTTP on the same server, the same sentences: time to first audio, throughput and
server CPU per request at 1, 4 and 8 concurrent clients, as ratios measured in one run.

One ``voxserve serve --grpc-port`` subprocess with the bundled voice serves both transports
(same process, same engines, same cache). Each request is one Harvard sentence as raw PCM
at the voice's rate: ``POST /v1/audio/speech`` (``sample_rate`` 22050, one kept-alive
connection per client) or ``Synthesize`` (one channel shared by the clients, as gRPC
clients do). Two workloads:

- ``synth``: cache bypassed, every request synthesized (what users see; the engine
  dominates, so the transport's share is small);
- ``cached``: every sentence cached first (the transport's own cost, magnified).

For each workload and concurrency the two transports run in alternating rounds (HTTP, gRPC,
HTTP, gRPC) so both see the same machine noise. Server CPU per request comes from
/proc/<pid>/stat around each round. Target (issue 20): gRPC overhead <= 2 % of HTTP's.

    .venv/bin/python bench/grpc_overhead.py [--requests 24] [--cached-requests 96]
        [--concurrency 1 4 8] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import grpc

from harness import (
    Server,
    free_port,
    load_sentences,
    percentile,
    run_concurrently,
    timed_post,
)
from voxserve.rpc.v1 import speech_pb2 as pb
from voxserve.rpc.v1 import speech_pb2_grpc

RATE_HZ = 22050


def http_client(server: Server, *, bypass: bool) -> Callable[[str], tuple[float, float]]:
    connection = server.connect(timeout=120)
    headers = {"content-type": "application/json"}
    if bypass:
        headers["x-voxserve-cache"] = "bypass"

    def speak(text: str) -> tuple[float, float]:
        body = json.dumps({"input": text, "response_format": "pcm",
                           "sample_rate": RATE_HZ}).encode()
        timing = timed_post(connection, body, headers)
        return timing.ttfb_s, timing.latency_s

    return speak


def grpc_client(stub: speech_pb2_grpc.SpeechStub, *,
                bypass: bool) -> Callable[[str], tuple[float, float]]:
    def speak(text: str) -> tuple[float, float]:
        start = time.perf_counter()
        first = None
        request = pb.SynthesizeRequest(text=text, format=pb.AUDIO_FORMAT_PCM,
                                       bypass_cache=bypass)
        for chunk in stub.Synthesize(request, timeout=120):
            if first is None and chunk.audio_data:
                first = time.perf_counter() - start
        latency = time.perf_counter() - start
        return (first if first is not None else latency), latency

    return speak


def measure(server: Server, workers: list[Callable[[str], tuple[float, float]]],
            texts: list[str]) -> dict[str, float]:
    cpu = server.cpu_s()
    run = run_concurrently(workers, texts)
    cpu_s = server.cpu_s() - cpu
    ttfb = [r[0] for r in run.results]
    return {"requests": len(texts), "wall_s": run.wall_s, "server_cpu_s": cpu_s,
            "ttfb": ttfb}  # type: ignore[dict-item]


def summarize(rounds: list[dict[str, float]]) -> dict[str, float]:
    ttfb = [t for r in rounds for t in r["ttfb"]]  # type: ignore[attr-defined]
    requests = sum(r["requests"] for r in rounds)
    return {
        "requests": requests,
        "ttfb_p50_ms": percentile(ttfb, 50) * 1000,
        "ttfb_p95_ms": percentile(ttfb, 95) * 1000,
        "throughput_rps": requests / sum(r["wall_s"] for r in rounds),
        "server_cpu_ms_per_request": sum(r["server_cpu_s"] for r in rounds) / requests * 1000,
    }


def report(workload: str, concurrency: int, summary: dict[str, dict[str, float]]) -> str:
    http, rpc = summary["http"], summary["grpc"]
    parts = []
    for key, label, unit in (("ttfb_p50_ms", "TTFB p50", "ms"),
                             ("throughput_rps", "throughput", "/s"),
                             ("server_cpu_ms_per_request", "server CPU/request", "ms")):
        parts.append(f"{label} http {http[key]:.2f} {unit}, grpc {rpc[key]:.2f} {unit} "
                     f"(grpc/http x{rpc[key] / http[key]:.3f})")
    return f"{workload:6} c={concurrency}: " + "; ".join(parts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=24,
                        help="synthesized requests per transport and concurrency")
    parser.add_argument("--cached-requests", type=int, default=96,
                        help="cached requests per transport and concurrency")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--workloads", nargs="+", default=["synth", "cached"],
                        choices=["synth", "cached"])
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    sentences = load_sentences()
    grpc_port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp) / "data", {"VOXSERVE_GRPC_PORT": str(grpc_port),
                                             "VOXSERVE_RATE_LIMIT_REQUESTS_PER_MINUTE": "0",
                                             "VOXSERVE_RATE_LIMIT_CHARS_PER_MINUTE": "0",
                                             "VOXSERVE_RATE_LIMIT_CONCURRENT_STREAMS": "0"},
                        log_path=Path(tmp) / "server.log")
        try:
            server.wait_ready()
            channel = grpc.insecure_channel(f"127.0.0.1:{grpc_port}")
            grpc.channel_ready_future(channel).result(timeout=30)
            stub = speech_pb2_grpc.SpeechStub(channel)
            results: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
            cached_texts = sentences[:16]
            warm = http_client(server, bypass=False)
            for text in cached_texts:  # the cached workload's sentences, in the cache
                warm(text)
            for text in cached_texts[:4]:  # warm-up of both paths
                grpc_client(stub, bypass=False)(text)
            for workload, count, bypass in (("synth", args.requests, True),
                                            ("cached", args.cached_requests, False)):
                if workload not in args.workloads:
                    continue
                results[workload] = {}
                for concurrency in args.concurrency:
                    rounds: dict[str, list[dict[str, float]]] = {"http": [], "grpc": []}
                    for round_index in range(2):
                        pool = sentences if bypass else cached_texts
                        start = (round_index * count // 2) % len(pool)
                        texts = [pool[(start + i) % len(pool)] for i in range(count // 2)]
                        http_workers = [http_client(server, bypass=bypass)
                                        for _ in range(concurrency)]
                        grpc_workers = [grpc_client(stub, bypass=bypass)
                                        for _ in range(concurrency)]
                        rounds["http"].append(measure(server, http_workers, texts))
                        rounds["grpc"].append(measure(server, grpc_workers, texts))
                    summary = {name: summarize(r) for name, r in rounds.items()}
                    results[workload][str(concurrency)] = summary
                    print(report(workload, concurrency, summary), flush=True)
            ratios = [results[w][c]["grpc"]["server_cpu_ms_per_request"]
                      / results[w][c]["http"]["server_cpu_ms_per_request"]
                      for w in results for c in results[w]]
            print(f"server CPU per request, gRPC / HTTP: median x{statistics.median(ratios):.3f}")
            if args.json:
                args.json.write_text(json.dumps(results, indent=2))
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
