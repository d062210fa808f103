"""Clients arriving together after a quiet spell: adaptive threads against replicas only.

Two (``--clients``) clients send ``--block`` sentences between them, then all pause for
``--pause`` seconds (longer than the scheduler's 1 s concurrency window, so each block starts
with the engine idle and its first request is a candidate for the all-core session), for
``--blocks`` blocks. The same workload runs against a server with ``VOXSERVE_ADAPTIVE_THREADS``
on and one with it off, alternating ``--rounds`` times, and prints the requests/s of the
active time of each and their ratio. This is the case that stopping an all-core run which has
not spoken yet exists for (``scheduler/layout.py``); see docs/performance.md.

    .venv/bin/python bench/arrivals.py [--clients 2] [--block 4] [--blocks 16] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path

from harness import Server, load_sentences, percentile, timed_post


def body(text: str) -> bytes:
    return json.dumps({"model": "piper", "voice": "joe", "input": text,
                       "response_format": "pcm", "sample_rate": 22050}).encode()


def run_blocks(server: Server, sentences: list[str], clients: int, block: int, blocks: int,
               pause_s: float) -> tuple[float, list[float]]:
    """(requests/s over the active time, latencies in seconds)."""
    connections = [server.connect() for _ in range(clients)]
    latencies: list[float] = []
    lock = threading.Lock()
    texts = iter(sentences * 4)
    active_s = 0.0

    def client(index: int, count: int) -> None:
        for _ in range(count):
            with lock:
                text = next(texts)
            _, total_s, _ = timed_post(connections[index], body(text))
            with lock:
                latencies.append(total_s)

    for _ in range(blocks):
        time.sleep(pause_s)
        started = time.perf_counter()
        threads = [threading.Thread(target=client, args=(k, block // clients))
                   for k in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        active_s += time.perf_counter() - started
    for connection in connections:
        connection.close()
    return len(latencies) / active_s, latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--block", type=int, default=4, help="requests per block, all clients")
    parser.add_argument("--blocks", type=int, default=16)
    parser.add_argument("--pause", type=float, default=1.3, help="seconds between blocks")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    sentences = load_sentences()[100:300]
    rates: dict[str, list[float]] = {"on": [], "off": []}
    with tempfile.TemporaryDirectory() as tmp:
        for round_index in range(args.rounds):
            for side in ("on", "off"):
                env = {"VOXSERVE_CACHE_URL": "none",
                       "VOXSERVE_ADAPTIVE_THREADS": "true" if side == "on" else "false"}
                folder = Path(tmp) / f"{side}{round_index}"
                with Server(folder / "data", env, log_path=folder / "server.log") as server:
                    server.wait_ready()
                    timed_post(server.connect(), body("Warm up."))
                    rate, latencies = run_blocks(server, sentences, args.clients, args.block,
                                                 args.blocks, args.pause)
                rates[side].append(rate)
                print(f"adaptive {side:3} round {round_index + 1}: {rate:6.2f} req/s, "
                      f"latency p50 {1000 * percentile(latencies, 50):.0f} ms, "
                      f"p95 {1000 * percentile(latencies, 95):.0f} ms", flush=True)
    on, off = statistics.median(rates["on"]), statistics.median(rates["off"])
    print(f"adaptive on / off (medians of {args.rounds} rounds): {on / off:.3f} "
          f"(clients {args.clients}, blocks of {args.block} after {args.pause} s pauses)")


if __name__ == "__main__":
    main()
