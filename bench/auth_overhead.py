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
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from harness import Server, percentile_nearest_index, timed_post

SENTENCE = "The birch canoe slid on the smooth planks."
BODY = json.dumps({"input": SENTENCE, "response_format": "pcm"}).encode()
NO_AUTH = {
    "VOXSERVE_AUTH": "none",
    "VOXSERVE_RATE_LIMIT_REQUESTS_PER_MINUTE": "0",
    "VOXSERVE_RATE_LIMIT_CHARS_PER_MINUTE": "0",
    "VOXSERVE_RATE_LIMIT_CONCURRENT_STREAMS": "0",
}
API_KEY_AND_LIMITS = {
    "VOXSERVE_AUTH": "api_key",
    "VOXSERVE_RATE_LIMIT_REQUESTS_PER_MINUTE": "1000000",
    "VOXSERVE_RATE_LIMIT_CHARS_PER_MINUTE": "1000000000",
    "VOXSERVE_RATE_LIMIT_CONCURRENT_STREAMS": "8",
}


class Client:
    """Requests for the one sentence on one kept-alive connection to ``server``."""

    def __init__(self, server: Server, token: str | None) -> None:
        self.connection = server.connect(timeout=60)
        self.headers = {"content-type": "application/json"}
        if token:
            self.headers["authorization"] = f"Bearer {token}"

    def speak(self) -> float:
        return timed_post(self.connection, BODY, self.headers).latency_s

    def close(self) -> None:
        self.connection.close()


def _ms(values: list[float], q: float) -> float:
    return percentile_nearest_index(values, q) * 1000


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="auth + rate limit overhead")
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "api-key").mkdir()
        key = subprocess.run(
            [sys.executable, "-m", "voxserve", "keys", "create", "bench"],
            env={**os.environ, "VOXSERVE_DATA_DIR": str(work / "api-key")}, capture_output=True,
            text=True, check=True,
        ).stdout.strip()
        with (Server(work / "no-auth", NO_AUTH, log_path=work / "no-auth.log") as open_server,
              Server(work / "api-key", API_KEY_AND_LIMITS,
                     log_path=work / "api-key.log") as auth_server):
            open_server.wait_ready()
            auth_server.wait_ready()
            plain, guarded = Client(open_server, None), Client(auth_server, key)
            try:
                for _ in range(20):  # fill the caches, warm both processes
                    plain.speak()
                    guarded.speak()
                plain_s, guarded_s = [], []
                for _ in range(args.requests):
                    plain_s.append(plain.speak())
                    guarded_s.append(guarded.speak())
            finally:
                plain.close()
                guarded.close()
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
