"""Overhead of authentication + rate limiting on a fully cached speech request.

Two ``voxserve serve`` subprocesses with the bundled voice and the memory cache: one with
``VOXSERVE_AUTH=none`` and every rate limit off, one with ``VOXSERVE_AUTH=api_key`` (a key
created with ``voxserve keys create``) and the rate limits on (in memory). The same
one-sentence request is cached on both, then requests alternate between the two servers,
so both see the same machine noise. Prints p50/p95 of each and the p50 difference
(target: <= 1 ms).

    .venv/bin/python bench/auth_overhead.py [--requests 400] [--json out.json]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SENTENCE = "The birch canoe slid on the smooth planks."
BODY = json.dumps({"input": SENTENCE, "response_format": "pcm"})


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    def __init__(self, data_dir: str, env: dict[str, str], token: str | None) -> None:
        self.port = _free_port()
        self.token = token
        self.process = subprocess.Popen(
            [sys.executable, "-m", "voxserve", "serve", "--port", str(self.port)],
            env={**os.environ, "VOXSERVE_DATA_DIR": data_dir, "VOXSERVE_LOG_LEVEL": "warning",
                 **env},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        deadline = time.monotonic() + 120
        while True:
            try:
                self.connection.request("GET", "/readyz")
                response = self.connection.getresponse()
                response.read()
                if response.status == 200:
                    break
            except OSError:
                self.connection.close()
            if time.monotonic() > deadline:
                raise RuntimeError("server not ready")
            time.sleep(0.2)

    def speak(self) -> float:
        headers = {"content-type": "application/json"}
        if self.token:
            headers["authorization"] = f"Bearer {self.token}"
        started = time.perf_counter()
        self.connection.request("POST", "/v1/audio/speech", BODY, headers)
        response = self.connection.getresponse()
        response.read()
        elapsed = time.perf_counter() - started
        if response.status != 200:
            raise RuntimeError(f"status {response.status}")
        return elapsed

    def stop(self) -> None:
        self.connection.close()
        self.process.terminate()
        self.process.wait(30)


def _ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))] * 1000


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="auth + rate limit overhead")
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as open_dir, tempfile.TemporaryDirectory() as auth_dir:
        key = subprocess.run(
            [sys.executable, "-m", "voxserve", "keys", "create", "bench"],
            env={**os.environ, "VOXSERVE_DATA_DIR": auth_dir}, capture_output=True, text=True,
            check=True,
        ).stdout.strip()
        plain = Server(open_dir, {"VOXSERVE_AUTH": "none",
                                  "VOXSERVE_RATE_LIMIT_REQUESTS_PER_MINUTE": "0",
                                  "VOXSERVE_RATE_LIMIT_CHARS_PER_MINUTE": "0",
                                  "VOXSERVE_RATE_LIMIT_CONCURRENT_STREAMS": "0"}, None)
        guarded = Server(auth_dir, {"VOXSERVE_AUTH": "api_key",
                                    "VOXSERVE_RATE_LIMIT_REQUESTS_PER_MINUTE": "1000000",
                                    "VOXSERVE_RATE_LIMIT_CHARS_PER_MINUTE": "1000000000",
                                    "VOXSERVE_RATE_LIMIT_CONCURRENT_STREAMS": "8"}, key)
        try:
            for _ in range(20):  # fill the caches, warm both processes
                plain.speak()
                guarded.speak()
            plain_s, guarded_s = [], []
            for _ in range(args.requests):
                plain_s.append(plain.speak())
                guarded_s.append(guarded.speak())
        finally:
            plain.stop()
            guarded.stop()
    report = {
        "requests_each": args.requests,
        "no_auth_p50_ms": _ms(plain_s, 50), "no_auth_p95_ms": _ms(plain_s, 95),
        "api_key_and_limits_p50_ms": _ms(guarded_s, 50),
        "api_key_and_limits_p95_ms": _ms(guarded_s, 95),
        "overhead_p50_ms": _ms(guarded_s, 50) - _ms(plain_s, 50),
        "paired_median_difference_ms": statistics.median(
            (g - p) * 1000 for g, p in zip(guarded_s, plain_s, strict=True)),
    }
    print(f"cached one-sentence request, {args.requests} each, alternating:")
    print(f"  auth none, no limits     p50 {report['no_auth_p50_ms']:.2f} ms  "
          f"p95 {report['no_auth_p95_ms']:.2f} ms")
    print(f"  API key + rate limits    p50 {report['api_key_and_limits_p50_ms']:.2f} ms  "
          f"p95 {report['api_key_and_limits_p95_ms']:.2f} ms")
    print(f"  overhead p50 {report['overhead_p50_ms']:.2f} ms (paired median "
          f"{report['paired_median_difference_ms']:.2f} ms; target <= 1 ms)")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
