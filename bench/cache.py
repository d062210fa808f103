"""Result-cache benchmark: voxserve over HTTP with its segment cache, versus bypassing it.

Starts ``voxserve serve`` (fresh data dir, ``VOXSERVE_CACHE_URL`` as given) and measures, in
one run:

1. latency of a fully cached one-sentence ``pcm`` request: p50/p95/p99 over sequential
   requests on a kept-alive connection (target: p50 <= 5 ms), with the bypassed latency of the
   same request for reference;
2. throughput of a mixed workload where 50 % of the requests repeat a sentence asked shortly
   before (Harvard sentences), with the cache versus with ``X-Voxserve-Cache: bypass``, as a
   ratio. The sides run in alternating blocks (cache, bypass, bypass, cache, ...) on the same
   sentences, so both do the same work and see the same machine noise.

Every block (and the latency test) sends its own ``speed`` of 1 + n·1e-9, an inaudible change
that is part of the cache key: each block starts with a cold cache, whatever earlier blocks,
earlier runs (a shared Redis) or the bypass semantics left behind. The server's ``/metrics``
(``voxserve_cache_hits_total``) confirm that cached requests hit and bypassed ones do not.

    .venv/bin/python bench/cache.py [--quick] [--clients 4] [--rounds 3] [--json out.json]
    .venv/bin/python bench/cache.py --cache-url redis://127.0.0.1:6379/0
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from harness import (
    JSON_HEADERS,
    SENTENCES_FILE,
    Server,
    load_sentences,
    metric_sum,
    percentile,
    run_concurrently,
    timed_post,
)

CACHE_HEADER = "X-Voxserve-Cache"
HITS_SAMPLE = "voxserve_cache_hits_total"
TARGET_CACHED_P50_S = 0.005


@dataclass(frozen=True, slots=True)
class Config:
    latency_requests: int
    clients: int
    rounds: int
    block_sentences: int
    cache_url: str
    json_path: Path | None


def parse_args(argv: Sequence[str] | None = None) -> Config:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run, about a minute")
    parser.add_argument("--latency-requests", type=int, default=None,
                        help="sequential cached requests (default 300, --quick 50)")
    parser.add_argument("--clients", type=int, default=4, help="concurrency of the mixed "
                        "workload (default 4)")
    parser.add_argument("--rounds", type=int, default=None,
                        help="cache/bypass block pairs (default 3, --quick 1)")
    parser.add_argument("--block-sentences", type=int, default=None,
                        help="distinct sentences per round; a block sends each twice "
                             "(default 40, --quick 12)")
    parser.add_argument("--cache-url", default="memory",
                        help="VOXSERVE_CACHE_URL of the server (default memory)")
    parser.add_argument("--json", type=Path, default=None, help="write all figures here")
    args = parser.parse_args(argv)
    config = Config(
        latency_requests=args.latency_requests or (50 if args.quick else 300),
        clients=args.clients,
        rounds=args.rounds or (1 if args.quick else 3),
        block_sentences=args.block_sentences or (12 if args.quick else 40),
        cache_url=args.cache_url,
        json_path=args.json,
    )
    if min(config.latency_requests, config.clients, config.rounds, config.block_sentences) < 1:
        parser.error("counts must be at least 1")
    return config


# --- the server ------------------------------------------------------------------------------


def cache_hits(server: Server) -> float:
    """``voxserve_cache_hits_total`` summed over backends (0 before any cache use)."""
    return metric_sum(server.port, HITS_SAMPLE)


class Speaker:
    """Speech requests on one kept-alive connection; ``bypass`` sends the bypass header."""

    def __init__(self, server: Server, speed: float, bypass: bool) -> None:
        self.conn = server.connect()
        self.speed = speed
        self.headers = dict(JSON_HEADERS)
        if bypass:
            self.headers[CACHE_HEADER] = "bypass"

    def say(self, text: str) -> tuple[float, int]:
        """POST one request and read the whole body: (latency_s, body bytes)."""
        body = json.dumps({"input": text, "response_format": "pcm", "speed": self.speed})
        timing = timed_post(self.conn, body.encode(), self.headers)
        return timing.latency_s, timing.size

    def close(self) -> None:
        self.conn.close()


# --- 1. latency of a cached request ----------------------------------------------------------


@dataclass(slots=True)
class LatencyResult:
    requests: int
    cached_p50_s: float
    cached_p95_s: float
    cached_p99_s: float
    bypass_p50_s: float
    hits: float
    target_met: bool


def measure_latency(server: Server, text: str, speed: float, requests: int) -> LatencyResult:
    cached = Speaker(server, speed, bypass=False)
    bypass = Speaker(server, speed, bypass=True)
    try:
        cached.say(text)  # the miss that fills the cache
        hits = cache_hits(server)
        latencies = [cached.say(text)[0] for _ in range(requests)]
        hits = cache_hits(server) - hits
        bypassed = [bypass.say(text)[0] for _ in range(max(5, requests // 20))]
    finally:
        cached.close()
        bypass.close()
    p50 = percentile(latencies, 50)
    return LatencyResult(
        requests=requests,
        cached_p50_s=p50,
        cached_p95_s=percentile(latencies, 95),
        cached_p99_s=percentile(latencies, 99),
        bypass_p50_s=percentile(bypassed, 50),
        hits=hits,
        target_met=p50 <= TARGET_CACHED_P50_S,
    )


# --- 2. mixed workload throughput ------------------------------------------------------------


def mixed_workload(unique: Sequence[str], lag: int) -> list[str]:
    """Every sentence twice, its repeat ``lag`` requests after it: 50 % repeated requests."""
    order: list[str] = []
    for index, text in enumerate(unique):
        order.append(text)
        if index >= lag:
            order.append(unique[index - lag])
    order.extend(unique[max(0, len(unique) - lag):])
    return order


@dataclass(slots=True)
class Block:
    side: str
    requests: int
    wall_s: float
    hits: float

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.wall_s


def run_block(server: Server, side: str, texts: Sequence[str], clients: int,
              speed: float) -> Block:
    speakers = [Speaker(server, speed, bypass=side == "bypass") for _ in range(clients)]
    try:
        hits = cache_hits(server)
        wall = run_concurrently([speaker.say for speaker in speakers], texts).wall_s
        return Block(side, len(texts), wall, cache_hits(server) - hits)
    finally:
        for speaker in speakers:
            speaker.close()


@dataclass(slots=True)
class ThroughputResult:
    clients: int
    requests_per_block: int
    cache_requests_per_s: float
    bypass_requests_per_s: float
    ratio: float
    pair_ratios: list[float]
    cache_hits: float
    bypass_hits: float


def measure_throughput(server: Server, sentences: Sequence[str], speeds: Iterator[float],
                       config: Config) -> ThroughputResult:
    # Unmeasured: the first concurrent, varied requests pay one-off costs (allocations).
    run_block(server, "bypass", sentences[-2 * config.clients:], config.clients, next(speeds))
    fresh = iter(sentences)
    blocks: dict[str, list[Block]] = {"cache": [], "bypass": []}
    for round_index in range(config.rounds):
        unique = list(itertools.islice(fresh, config.block_sentences))
        texts = mixed_workload(unique, lag=2 * config.clients)
        order = ("cache", "bypass") if round_index % 2 == 0 else ("bypass", "cache")
        for side in order:
            blocks[side].append(run_block(server, side, texts, config.clients, next(speeds)))

    def rate(side: str) -> float:
        return (sum(b.requests for b in blocks[side])
                / sum(b.wall_s for b in blocks[side]))

    return ThroughputResult(
        clients=config.clients,
        requests_per_block=2 * config.block_sentences,
        cache_requests_per_s=rate("cache"),
        bypass_requests_per_s=rate("bypass"),
        ratio=rate("cache") / rate("bypass"),
        pair_ratios=[c.requests_per_s / b.requests_per_s
                     for c, b in zip(blocks["cache"], blocks["bypass"], strict=True)],
        cache_hits=sum(b.hits for b in blocks["cache"]),
        bypass_hits=sum(b.hits for b in blocks["bypass"]),
    )


# --- the run ---------------------------------------------------------------------------------


def report(config: Config, latency: LatencyResult, throughput: ThroughputResult) -> None:
    ms = 1000.0
    print(f"voxserve cache benchmark: VOXSERVE_CACHE_URL={config.cache_url}, "
          f"{os.cpu_count()} CPUs")
    print(f"\n1. fully cached one-sentence pcm request ({latency.requests} sequential):")
    print(f"   p50 {latency.cached_p50_s * ms:.2f} ms   p95 {latency.cached_p95_s * ms:.2f} ms"
          f"   p99 {latency.cached_p99_s * ms:.2f} ms   "
          f"(target p50 <= {TARGET_CACHED_P50_S * ms:.0f} ms: "
          f"{'met' if latency.target_met else 'NOT met'})")
    print(f"   bypassing the cache: p50 {latency.bypass_p50_s * ms:.1f} ms")
    print(f"   cache hits reported by the server: {latency.hits:.0f} of {latency.requests}")
    print(f"\n2. mixed workload, 50 % repeated sentences, {throughput.clients} clients, "
          f"{config.rounds} x {throughput.requests_per_block} requests per side:")
    print(f"   with cache: {throughput.cache_requests_per_s:.2f} req/s "
          f"({throughput.cache_hits:.0f} hits)")
    print(f"   bypass    : {throughput.bypass_requests_per_s:.2f} req/s "
          f"({throughput.bypass_hits:.0f} hits)")
    pairs = " ".join(f"{ratio:.2f}" for ratio in throughput.pair_ratios)
    print(f"   throughput ratio cache/bypass: {throughput.ratio:.2f} "
          f"(per block pair: {pairs}; about 2 when hits cost nothing)")
    if latency.hits < latency.requests or throughput.cache_hits == 0:
        print("\nWARNING: the server reported fewer cache hits than cached requests: "
              "is the cache enabled and wired into the speech service?")
    if throughput.bypass_hits:
        print(f"\nWARNING: {throughput.bypass_hits:.0f} hits while bypassing: "
              f"the {CACHE_HEADER}: bypass header is not honoured")


def main(argv: Sequence[str] | None = None) -> int:
    config = parse_args(argv)
    sentences = load_sentences()
    needed = 1 + config.rounds * config.block_sentences + 2 * config.clients
    if needed > len(sentences):
        sys.exit(f"{SENTENCES_FILE} has {len(sentences)} sentences; this run needs {needed}")
    speeds = (1.0 + n * 1e-9 for n in itertools.count(random.randint(1, 10**6)))
    with tempfile.TemporaryDirectory(prefix="voxserve-bench-cache-") as tmp:
        workdir = Path(tmp)
        with Server(workdir / "data", {"VOXSERVE_CACHE_URL": config.cache_url},
                    log_path=workdir / "server.log") as server:
            try:
                server.wait_ready()
                latency = measure_latency(server, sentences[0], next(speeds),
                                          config.latency_requests)
                throughput = measure_throughput(server, sentences[1:], speeds, config)
            except BaseException:
                print(server.log_tail(), file=sys.stderr)
                raise
    report(config, latency, throughput)
    if config.json_path is not None:
        config.json_path.write_text(json.dumps(
            {"config": {**asdict(config), "json_path": str(config.json_path)},
             "latency": asdict(latency), "throughput": asdict(throughput)}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
