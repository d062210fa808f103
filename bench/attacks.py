"""What two attacks of issue 23 cost a server: hostile bodies (D2) and endless headers (D4).

Each server (this tree's ``src``, and with ``--baseline-src`` another tree, e.g. main's, for
the before/after ratio in one run on the same machine) runs the fake engine with
``VOXSERVE_AUTH=api_key``:

* **hostile bodies**: ``--clients`` connections each POST a ``--body-mb`` MB JSON body to
  ``/v1/projects`` while ``/healthz`` is asked every 100 ms on a connection of its own:
  millions of empty strings (the worst case for a regex depth scan, and seconds of
  pydantic parsing) without a credential, then with a valid key; then, with the key, one
  string of 20 MB of escapes (the worst body the limits let through). Prints the
  ``/healthz`` latency p50/p95/max, how many probes took longer than 2 s, and how long the
  bodies took.
* **header flood** (first, on the fresh server): ``--flood-connections`` connections each
  send ``--flood-mb`` MB of header lines that never end. Prints the server's resident
  memory before, at its peak while the flood runs, and 5 s after.

    .venv/bin/python bench/attacks.py [--baseline-src /path/to/main/src] [--json out.json]

Loopback only; every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from harness import LOOPBACK, Server, percentile

REPO_SRC = Path(__file__).resolve().parents[1] / "src"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _post(port: int, body: bytes, key: str | None, deadline: float) -> float:
    """Send one body on a connection of its own; seconds until the answer (or the end)."""
    head = (f"POST /v1/projects HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n"
            + (f"Authorization: Bearer {key}\r\n" if key else "") + "\r\n").encode()
    started = time.perf_counter()
    with socket.create_connection((LOOPBACK, port), timeout=max(1.0, deadline - time.time())) \
            as sock:
        try:
            sock.sendall(head)
            view = memoryview(body)
            for offset in range(0, len(body), 1 << 20):
                sock.sendall(view[offset:offset + (1 << 20)])
            sock.recv(4096)
        except OSError:
            pass  # answered and closed before the body was sent: that is the point
    return time.perf_counter() - started


def hostile_bodies(server: Server, key: str | None, clients: int, body: bytes,
                   limit_s: float) -> dict[str, float]:
    deadline = time.time() + limit_s
    latencies: list[float] = []
    durations: list[float] = []
    done = threading.Event()

    def probe() -> None:
        while not done.is_set() and time.time() < deadline:
            started = time.perf_counter()
            try:
                status, _ = server.request("GET", "/healthz", timeout=10)
                assert status == 200
                latencies.append(time.perf_counter() - started)
            except OSError:
                latencies.append(10.0)
            time.sleep(0.1)

    def client() -> None:
        durations.append(_post(server.port, body, key, deadline))

    prober = threading.Thread(target=probe)
    prober.start()
    time.sleep(0.5)
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(1.0, deadline - time.time()))
    done.set()
    prober.join()
    return {
        "healthz_p50_ms": round(percentile(latencies, 50) * 1000, 1),
        "healthz_p95_ms": round(percentile(latencies, 95) * 1000, 1),
        "healthz_max_ms": round(max(latencies) * 1000, 1),
        "healthz_over_2s": sum(1 for x in latencies if x > 2.0),
        "probes": len(latencies),
        "bodies_s_max": round(max(durations, default=float("nan")), 2),
    }


def header_flood(server: Server, connections: int, megabytes: int,
                 limit_s: float) -> dict[str, float]:
    pid = server.process.pid
    before = rss_mb(pid)
    peak = before
    line = b"X-Flood: " + b"a" * 8181 + b"\r\n"  # 8 KiB a line
    deadline = time.time() + limit_s
    sent_mb: list[float] = []

    def flood() -> None:
        sent = 0
        with socket.create_connection((LOOPBACK, server.port), timeout=10) as sock:
            try:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                chunk = line * 128  # 1 MiB
                while sent < megabytes << 20 and time.time() < deadline:
                    sock.sendall(chunk)
                    sent += len(chunk)
            except OSError:
                pass
        sent_mb.append(sent / (1 << 20))

    threads = [threading.Thread(target=flood) for _ in range(connections)]
    for thread in threads:
        thread.start()
    while any(t.is_alive() for t in threads):
        peak = max(peak, rss_mb(pid))
        time.sleep(0.05)
    peak = max(peak, rss_mb(pid))
    time.sleep(5)
    return {"rss_before_mb": round(before, 1), "rss_peak_mb": round(peak, 1),
            "rss_after_5s_mb": round(rss_mb(pid), 1),
            "sent_mb_before_refused": round(max(sent_mb, default=0.0), 1)}


def measure(src: Path, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(src), "VOXSERVE_DATA_DIR": str(work / "data")}
    os.environ["PYTHONPATH"] = str(src)  # the Server below inherits it
    key = subprocess.run(
        [sys.executable, "-m", "voxserve", "keys", "create", "bench", "-s", "projects"],
        env=env, capture_output=True, text=True, check=True).stdout.strip()
    body = b'{"text": [' + b'"",' * (args.body_mb * (1 << 20) // 3) + b'""]}'
    escapes = b'{"text": "' + b'\\"' * (args.body_mb * (1 << 20) // 2) + b'"}'
    with Server(work / "data", {"VOXSERVE_ENGINES": "fake", "VOXSERVE_DEFAULT_MODEL": "fake",
                                "VOXSERVE_AUTH": "api_key",
                                "VOXSERVE_MAX_UPLOAD_BYTES": str(len(escapes) + 1024)},
                log_path=work / "server.log") as server:
        server.wait_ready()
        result = {  # the flood first: the body phases leave freed memory it would reuse
            "header_flood": header_flood(server, args.flood_connections, args.flood_mb,
                                         args.limit_s),
            "unauthenticated": hostile_bodies(server, None, args.clients, body, args.limit_s),
            "authenticated": hostile_bodies(server, key, args.clients, body, args.limit_s),
            "authenticated_escaped_string": hostile_bodies(server, key, args.clients, escapes,
                                                           args.limit_s),
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline-src", type=Path, help="another tree's src (before)")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--body-mb", type=int, default=20)
    parser.add_argument("--flood-connections", type=int, default=2)
    parser.add_argument("--flood-mb", type=int, default=200)
    parser.add_argument("--limit-s", type=float, default=90.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    runs: dict[str, Any] = {}
    trees = [("after", REPO_SRC)] + ([("before", args.baseline_src)] if args.baseline_src
                                     else [])
    for label, src in trees:
        with tempfile.TemporaryDirectory(prefix=f"bench-attacks-{label}-") as folder:
            runs[label] = measure(src, args, Path(folder))
        print(label, json.dumps(runs[label], indent=2), flush=True)
    if "before" in runs:
        for scenario in ("unauthenticated", "authenticated"):
            before = runs["before"][scenario]["healthz_max_ms"]
            after = runs["after"][scenario]["healthz_max_ms"]
            print(f"{scenario}: /healthz worst latency before/after = {before / after:.1f}x")
        flood_before = runs["before"]["header_flood"]
        flood_after = runs["after"]["header_flood"]
        print("header flood: RSS growth before "
              f"{flood_before['rss_peak_mb'] - flood_before['rss_before_mb']:.0f} MB, after "
              f"{flood_after['rss_peak_mb'] - flood_after['rss_before_mb']:.0f} MB")
    if args.json:
        args.json.write_text(json.dumps(runs, indent=2))


if __name__ == "__main__":
    main()
