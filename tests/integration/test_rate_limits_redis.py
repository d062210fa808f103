"""Rate and concurrency limits shared by two processes through a real Redis.

Uses the shared Redis at 127.0.0.1:6379 (``VOXSERVE_TEST_REDIS_URL`` overrides) with a
unique key prefix per run, removed afterwards; skipped when it cannot be reached.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

redis = pytest.importorskip("redis")

pytestmark = pytest.mark.integration

REDIS_URL = os.environ.get("VOXSERVE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REPO_ROOT = Path(__file__).resolve().parents[2]

WORKER = textwrap.dedent("""
    import asyncio, json, os, sys, time
    from pathlib import Path
    from voxserve.errors import RateLimited
    from voxserve.security.limits import RateLimiter

    url, prefix, go = sys.argv[1], sys.argv[2], Path(sys.argv[3])

    async def main():
        limiter = RateLimiter(requests_per_minute=10, chars_per_minute=1000,
                              concurrent_streams=3, storage_url=url, key_prefix=prefix,
                              stream_ttl_s=120, timeout_s=2.0)
        deadline = time.monotonic() + 20
        while not go.exists():  # start together
            if time.monotonic() > deadline:
                raise SystemExit("no go file")
            await asyncio.sleep(0.005)
        result = {"requests": 0, "characters": 0, "streams": 0, "refused": []}
        for _ in range(8):
            try:
                await limiter.check_request("key:shared")
                result["requests"] += 1
            except RateLimited as exc:
                result["refused"].append([exc.limit, exc.headers["X-RateLimit-Remaining"],
                                          exc.headers["Retry-After"]])
        for _ in range(8):
            try:
                await limiter.check_characters("key:shared", 100)
                result["characters"] += 1
            except RateLimited as exc:
                result["refused"].append([exc.limit, exc.headers["X-RateLimit-Remaining"],
                                          exc.headers["Retry-After"]])
        for _ in range(2):
            try:
                await limiter.acquire_stream("key:shared")  # held: never released
                result["streams"] += 1
            except RateLimited as exc:
                result["refused"].append([exc.limit, exc.headers["X-RateLimit-Remaining"],
                                          exc.headers["Retry-After"]])
        print(json.dumps(result))
        await limiter.close()

    asyncio.run(main())
""")


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"no Redis at {REDIS_URL} ({exc}); start one or set VOXSERVE_TEST_REDIS_URL")
    prefix = f"voxserve-test:{uuid.uuid4().hex}"
    try:
        yield prefix
    finally:
        keys = list(client.scan_iter(match=f"*{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


def test_two_processes_share_the_limits(redis_prefix: str, tmp_path: Path) -> None:
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "src")}
    env = {k: v for k, v in env.items() if not k.startswith("VOXSERVE_")}
    workers = [
        subprocess.Popen([sys.executable, "-c", WORKER, REDIS_URL, redis_prefix, str(go)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
        for _ in range(2)
    ]
    time.sleep(0.5)  # let both import; correctness does not depend on this
    go.touch()
    results = []
    for worker in workers:
        out, err = worker.communicate(timeout=60)
        assert worker.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))

    # Each process alone would have allowed 8 of 8 requests / characters hits and 2 of 2
    # streams; together they are held to the shared limits.
    assert sum(r["requests"] for r in results) == 10
    assert sum(r["characters"] for r in results) == 10  # 10 x 100 characters = 1000
    assert sum(r["streams"] for r in results) == 3
    refused = [entry for r in results for entry in r["refused"]]
    assert sorted({entry[0] for entry in refused}) == [
        "characters", "concurrent_streams", "requests"]
    assert len(refused) == 6 + 6 + 1
    assert all(remaining == "0" and int(retry) >= 1 for _, remaining, retry in refused)

    # Crash behaviour: the workers exited holding their streams; the counter stays until
    # its expiry (refreshed by each acquire), then frees itself.
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2)
    key = f"{redis_prefix}:streams:key:shared"
    assert int(client.get(key)) == 3
    assert 0 < client.ttl(key) <= 120
    client.close()


def test_release_frees_a_slot_for_the_other_process(redis_prefix: str) -> None:
    """In-process view of the same counter: what one limiter releases another can take."""
    import asyncio

    from voxserve.errors import RateLimited
    from voxserve.security.limits import RateLimiter

    async def scenario() -> None:
        def make() -> RateLimiter:
            return RateLimiter(requests_per_minute=0, chars_per_minute=0, concurrent_streams=1,
                               storage_url=REDIS_URL, key_prefix=redis_prefix, timeout_s=2.0)

        first, second = make(), make()
        slot = await first.acquire_stream("jwt:alice")
        with pytest.raises(RateLimited):
            await second.acquire_stream("jwt:alice")
        await slot.release()
        await slot.release()  # idempotent: does not free someone else's slot
        async with second.stream("jwt:alice"):
            assert await first.in_use("jwt:alice") == 1
        assert await first.in_use("jwt:alice") == 0
        await first.close()
        await second.close()

    asyncio.run(scenario())
