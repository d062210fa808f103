"""Overload and priority benchmark for the scheduler (issue: serving under load).

Runs a ``voxserve serve`` subprocess with the bundled Piper voice and measures, in one run:

1. **Capacity**: closed-loop throughput (requests/s) with as many clients as keep the engine
   busy, one Harvard sentence per request.
2. **Open-loop load** at 0.5x, 1x and 4x that capacity (Poisson arrivals, bounded count):
   accepted share, accepted p50/p95 latency, refusal (503) latency p50/p95, and the server's
   resident memory before and after. Targets: refusals p95 <= 20 ms; accepted p95 <= queue
   budget + p95 service time; memory bounded.
3. **Priority**: interactive p95 latency alone, then while batch-priority clients
   (``X-Voxserve-Priority: batch``) saturate the engine. Target: ratio <= 1.5.

    .venv/bin/python bench/overload.py [--seconds 20] [--queue-budget-ms 2000] [--json out.json]
    .venv/bin/python bench/overload.py --paragraphs [--burst 60] [--seconds 20]

``--paragraphs`` (issue 17) measures admission with long inputs at the default budget
(``VOXSERVE_QUEUE_BUDGET_MS`` 10000) and the default replicas instead:

4. **Burst**: ``--burst`` (60) clients each send a paragraph of 300-900 characters at once.
   Admitted: time to first audio p95 against the budget. Refused: latency p95 and
   ``Retry-After``; each refused client then retries after each ``Retry-After`` it is given
   until admitted, and the time that took (the real wait) is set against the first
   ``Retry-After``; how many got in at their first retry.
5. **Steady overload**: paragraphs arriving (Poisson) at 4x the closed-loop paragraph
   capacity: the same figures. Targets: admitted first audio p95 <= budget; refusal p95
   <= 20 ms; Retry-After close to the real wait.

Clients are threads using ``http.client`` (cheap on CPU, so the 2-core test machine spends
its time in the server). Nothing here is a test: it prints figures for the closing notes.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from harness import SPEECH_PATH, Server, load_sentences, percentile_nearest_index

SENTENCES = load_sentences()


@dataclass
class Outcome:
    status: int
    latency_s: float


@dataclass
class LoadResult:
    label: str
    offered_rps: float
    sent: int
    accepted: int
    refused: int
    other: int
    accepted_p50_ms: float | None
    accepted_p95_ms: float | None
    refused_p50_ms: float | None
    refused_p95_ms: float | None
    rss_before_mb: float
    rss_after_mb: float
    notes: list[str] = field(default_factory=list)


def _percentile(values: list[float], q: float) -> float | None:
    return percentile_nearest_index(values, q) * 1000 if values else None


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def speak(server: Server, text: str, priority: str = "interactive") -> Outcome:
    """One speech request on a new connection, timed from before connecting."""
    started = time.perf_counter()
    status, _ = server.request(
        "POST", SPEECH_PATH, {"input": text, "response_format": "pcm"},
        headers={"x-voxserve-priority": priority}, timeout=120,
    )
    return Outcome(status, time.perf_counter() - started)


def closed_loop(server: Server, clients: int, seconds: float,
                priority: str = "interactive") -> list[Outcome]:
    outcomes: list[Outcome] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client(seed: int) -> None:
        rng = random.Random(seed)
        while time.monotonic() < stop_at:
            outcome = speak(server, rng.choice(SENTENCES), priority)
            with lock:
                outcomes.append(outcome)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def open_loop(server: Server, rate_rps: float, seconds: float, label: str,
              max_in_flight: int = 200) -> LoadResult:
    rng = random.Random(7)
    outcomes: list[Outcome] = []
    lock = threading.Lock()
    threads: list[threading.Thread] = []
    rss_before = _rss_mb(server.process.pid)
    notes = []

    def fire(text: str) -> None:
        outcome = speak(server, text)
        with lock:
            outcomes.append(outcome)

    next_at = time.monotonic()
    stop_at = next_at + seconds
    while next_at < stop_at:
        time.sleep(max(0.0, next_at - time.monotonic()))
        threads = [t for t in threads if t.is_alive()]
        if len(threads) >= max_in_flight:
            notes.append("client in-flight cap reached")
        else:
            thread = threading.Thread(target=fire, args=(rng.choice(SENTENCES),))
            thread.start()
            threads.append(thread)
        next_at += rng.expovariate(rate_rps)
    for thread in threads:
        thread.join()
    accepted = [o.latency_s for o in outcomes if o.status == 200]
    refused = [o.latency_s for o in outcomes if o.status == 503]
    return LoadResult(
        label=label, offered_rps=rate_rps, sent=len(outcomes), accepted=len(accepted),
        refused=len(refused), other=len(outcomes) - len(accepted) - len(refused),
        accepted_p50_ms=_percentile(accepted, 50), accepted_p95_ms=_percentile(accepted, 95),
        refused_p50_ms=_percentile(refused, 50), refused_p95_ms=_percentile(refused, 95),
        rss_before_mb=rss_before, rss_after_mb=_rss_mb(server.process.pid),
        notes=sorted(set(notes)),
    )


def _p95(outcomes: list[Outcome]) -> float:
    value = _percentile([o.latency_s for o in outcomes if o.status == 200], 95)
    return value if value is not None else float("nan")


def priority_run(server: Server, seconds: float, batch_clients: int) -> dict[str, float]:
    idle = closed_loop(server, 1, seconds)
    batch_done = threading.Event()
    batch: list[Outcome] = []

    def saturate() -> None:
        batch.extend(closed_loop(server, batch_clients, seconds + 2, priority="batch"))
        batch_done.set()

    saturator = threading.Thread(target=saturate)
    saturator.start()
    time.sleep(1.0)  # let the batch clients fill the queue
    loaded = closed_loop(server, 1, seconds)
    saturator.join()
    idle_p95, loaded_p95 = _p95(idle), _p95(loaded)
    return {
        "idle_interactive_p95_ms": idle_p95,
        "loaded_interactive_p95_ms": loaded_p95,
        "ratio": loaded_p95 / idle_p95,
        "batch_requests_completed": float(sum(1 for o in batch if o.status == 200)),
        "interactive_requests_idle": float(len(idle)),
        "interactive_requests_loaded": float(len(loaded)),
    }


# --- paragraphs (issue 17) ----------------------------------------------------------------

def paragraphs(count: int, seed: int = 11) -> list[str]:
    """``count`` paragraphs of 300-900 characters made of consecutive Harvard sentences."""
    rng = random.Random(seed)
    made = []
    for _ in range(count):
        goal = rng.randint(300, 900)
        start = rng.randrange(len(SENTENCES))
        text = ""
        index = start
        while len(text) < goal - 40:
            text = f"{text} {SENTENCES[index % len(SENTENCES)]}".strip()
            index += 1
        made.append(text[:900])
    return made


@dataclass
class ParagraphOutcome:
    status: int
    #: first body bytes (admitted) or the whole answer (refused), from before connecting
    first_s: float
    retry_after_s: float | None = None
    #: refused: seconds from the refusal until a retry (after each Retry-After) was admitted
    real_wait_s: float | None = None
    retry_first_s: float | None = None
    #: retries it took (1: admitted at the first retry after Retry-After)
    retries: int = 0


def stream_paragraph(server: Server, text: str) -> tuple[int, float, float | None]:
    """(status, seconds to first body bytes or to the refusal, Retry-After)."""
    started = time.perf_counter()
    connection = server.connect(300)
    try:
        body = json.dumps({"input": text, "response_format": "pcm"})
        connection.request("POST", SPEECH_PATH, body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        if response.status != 200:
            response.read()
            after = response.getheader("retry-after")
            return (response.status, time.perf_counter() - started,
                    float(after) if after else None)
        response.read1(65536)
        first = time.perf_counter() - started
        while response.read1(65536):
            pass
        return 200, first, None
    finally:
        connection.close()


def paragraph_client(server: Server, text: str, retry: bool) -> ParagraphOutcome:
    status, first, retry_after = stream_paragraph(server, text)
    outcome = ParagraphOutcome(status, first, retry_after)
    if status == 503 and retry:
        refused_at = time.perf_counter()
        wait_s = retry_after or 1.0
        while time.perf_counter() - refused_at < 600:
            time.sleep(wait_s)  # a well-behaved client: retry after what it was told
            outcome.retries += 1
            again, again_first, again_after = stream_paragraph(server, text)
            wait_s = again_after or 1.0
            if again == 200:
                outcome.real_wait_s = time.perf_counter() - refused_at - again_first
                outcome.retry_first_s = again_first
                break
    return outcome


def summarize_paragraphs(label: str, outcomes: list[ParagraphOutcome], budget_ms: float
                         ) -> dict[str, object]:
    admitted = [o.first_s for o in outcomes if o.status == 200]
    refused = [o for o in outcomes if o.status == 503]
    waits = [(o.retry_after_s, o.real_wait_s) for o in refused
             if o.retry_after_s is not None and o.real_wait_s is not None]
    summary: dict[str, object] = {
        "label": label, "sent": len(outcomes), "admitted": len(admitted),
        "refused": len(refused), "other": len(outcomes) - len(admitted) - len(refused),
        "admitted_first_audio_p50_ms": _percentile(admitted, 50),
        "admitted_first_audio_p95_ms": _percentile(admitted, 95),
        "refusal_p50_ms": _percentile([o.first_s for o in refused], 50),
        "refusal_p95_ms": _percentile([o.first_s for o in refused], 95),
        "retry_after_p50_s": _percentile([w[0] for w in waits], 50),
        "real_wait_p50_s": _percentile([w[1] for w in waits], 50),
        "retry_after_over_real_wait_median": (
            sorted(a / max(r, 0.5) for a, r in waits)[len(waits) // 2] if waits else None),
        "retried_first_audio_p95_ms": _percentile(
            [o.retry_first_s for o in refused if o.retry_first_s is not None], 95),
        "admitted_at_first_retry": sum(1 for o in refused if o.retries == 1),
    }
    for key in ("retry_after_p50_s", "real_wait_p50_s"):  # _percentile gives ms
        value = summary[key]
        summary[key] = None if value is None else value / 1000  # type: ignore[operator]
    p95 = summary["admitted_first_audio_p95_ms"]
    print(f"\n{label}: {len(outcomes)} paragraphs, {len(admitted)} admitted, "
          f"{len(refused)} refused, {summary['other']} other")
    print(f"  admitted first audio p50/p95: {_fmt(summary['admitted_first_audio_p50_ms'])} /"  # type: ignore[arg-type]
          f"{_fmt(p95)} ms (target p95 <= budget {budget_ms:.0f})")  # type: ignore[arg-type]
    print(f"  refusals p50/p95: {_fmt(summary['refusal_p50_ms'])} /"  # type: ignore[arg-type]
          f"{_fmt(summary['refusal_p95_ms'])} ms (target p95 <= 20)")  # type: ignore[arg-type]
    if waits:
        print(f"  Retry-After p50 {summary['retry_after_p50_s']:.1f} s; real wait (retrying "
              f"after each Retry-After until admitted) p50 {summary['real_wait_p50_s']:.1f} s; "
              f"admitted at the first retry: {summary['admitted_at_first_retry']} of "
              f"{len(refused)}; median "
              f"Retry-After/real wait {summary['retry_after_over_real_wait_median']:.2f}; "
              f"retried requests' first audio p95 "
              f"{_fmt(summary['retried_first_audio_p95_ms'])} ms")  # type: ignore[arg-type]
    return summary


def burst(server: Server, count: int, budget_ms: float) -> dict[str, object]:
    texts = paragraphs(count)
    barrier = threading.Barrier(count)
    outcomes: list[ParagraphOutcome] = []
    lock = threading.Lock()

    def client(text: str) -> None:
        barrier.wait()
        outcome = paragraph_client(server, text, retry=True)
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=client, args=(t,)) for t in texts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return summarize_paragraphs(f"burst of {count}", outcomes, budget_ms)


def paragraph_capacity(server: Server, clients: int, seconds: float) -> float:
    texts = paragraphs(400, seed=5)
    done = []
    stop_at = time.monotonic() + seconds
    started = time.perf_counter()

    def client(offset: int) -> None:
        index = offset
        while time.monotonic() < stop_at:
            if stream_paragraph(server, texts[index % len(texts)])[0] == 200:
                done.append(1)
            index += clients

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(done) / (time.perf_counter() - started)


def steady_paragraphs(server: Server, rate: float, seconds: float, budget_ms: float
                      ) -> dict[str, object]:
    rng = random.Random(3)
    texts = paragraphs(1000, seed=9)
    outcomes: list[ParagraphOutcome] = []
    lock = threading.Lock()
    threads = []

    def fire(text: str) -> None:
        outcome = paragraph_client(server, text, retry=False)
        with lock:
            outcomes.append(outcome)

    next_at = time.monotonic()
    stop_at = next_at + seconds
    index = 0
    while next_at < stop_at:
        time.sleep(max(0.0, next_at - time.monotonic()))
        thread = threading.Thread(target=fire, args=(texts[index % len(texts)],))
        thread.start()
        threads.append(thread)
        index += 1
        next_at += rng.expovariate(rate)
    for thread in threads:
        thread.join()
    return summarize_paragraphs(f"steady {rate:.2f} paragraphs/s", outcomes, budget_ms)


def paragraph_main(args: argparse.Namespace) -> dict[str, object]:
    report: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="voxserve-bench-") as tmp, \
            Server(Path(tmp) / "data", {"VOXSERVE_CACHE_URL": "none",
                                        "VOXSERVE_QUEUE_BUDGET_MS": str(args.paragraph_budget_ms),
                                        "VOXSERVE_RATE_LIMIT_CONCURRENT_STREAMS": "0",
                                        "VOXSERVE_RATE_LIMIT_REQUESTS_PER_MINUTE": "0",
                                        "VOXSERVE_RATE_LIMIT_CHARS_PER_MINUTE": "0"},
                   log_path=Path(tmp) / "server.log") as server:
        server.wait_ready()
        budget_ms = args.paragraph_budget_ms
        closed_loop(server, 2, 3.0)  # warm-up: the learned rate starts from real requests
        report["burst"] = burst(server, args.burst, budget_ms)
        time.sleep(2.0)
        capacity = paragraph_capacity(server, 4, args.seconds)
        report["paragraph_capacity_per_s"] = capacity
        print(f"\nclosed-loop capacity: {capacity:.2f} paragraphs/s (4 clients)")
        report["steady_4x"] = steady_paragraphs(server, 4 * capacity, args.seconds, budget_ms)
    return report


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:8.1f}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=20.0, help="per load phase")
    parser.add_argument("--queue-budget-ms", type=float, default=2000.0)
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--paragraphs", action="store_true",
                        help="only the paragraph burst and steady-overload runs (issue 17)")
    parser.add_argument("--burst", type=int, default=60)
    parser.add_argument("--paragraph-budget-ms", type=float, default=10_000.0,
                        help="VOXSERVE_QUEUE_BUDGET_MS of the --paragraphs runs (the default's)")
    args = parser.parse_args(argv)
    if args.paragraphs:
        paragraph_report = paragraph_main(args)
        if args.json:
            args.json.write_text(json.dumps(paragraph_report, indent=2))
        return

    report: dict[str, object] = {"queue_budget_ms": args.queue_budget_ms}
    env = {
        "VOXSERVE_QUEUE_BUDGET_MS": str(args.queue_budget_ms),
        "VOXSERVE_ENGINE_REPLICAS": str(args.replicas), "VOXSERVE_CACHE_URL": "none",
    }
    with tempfile.TemporaryDirectory(prefix="voxserve-bench-") as tmp, \
            Server(Path(tmp) / "data", env, log_path=Path(tmp) / "server.log") as server:
        server.wait_ready()
        warm = closed_loop(server, 2, 3.0)
        capacity_outcomes = closed_loop(server, 2 * args.replicas, args.seconds)
        capacity_rps = len(capacity_outcomes) / args.seconds
        service_p95_ms = _p95(capacity_outcomes[: max(1, len(capacity_outcomes))])
        solo_p95_ms = _p95(warm)
        report |= {"capacity_rps": capacity_rps, "service_p95_ms_at_capacity": service_p95_ms}
        print(f"capacity: {capacity_rps:.2f} requests/s (closed loop, {2 * args.replicas} "
              f"clients); single-request p95 {solo_p95_ms:.0f} ms")
        results = []
        print(f"\n{'load':>6} {'offered/s':>9} {'sent':>5} {'ok':>5} {'503':>5} "
              f"{'ok p50':>8} {'ok p95':>8} {'503 p50':>8} {'503 p95':>8} {'RSS MB':>13}")
        for factor in (0.5, 1.0, 4.0):
            result = open_loop(server, factor * capacity_rps, args.seconds, f"{factor}x")
            results.append(result)
            print(f"{result.label:>6} {result.offered_rps:9.2f} {result.sent:5d} "
                  f"{result.accepted:5d} {result.refused:5d} {_fmt(result.accepted_p50_ms)} "
                  f"{_fmt(result.accepted_p95_ms)} {_fmt(result.refused_p50_ms)} "
                  f"{_fmt(result.refused_p95_ms)} {result.rss_before_mb:6.0f}->"
                  f"{result.rss_after_mb:5.0f}")
        report["open_loop"] = [asdict(r) for r in results]
        overloaded = results[-1]
        bound_ms = args.queue_budget_ms + solo_p95_ms
        print(f"\n4x: refusals p95 {_fmt(overloaded.refused_p95_ms).strip()} ms (target <= 20); "
              f"accepted p95 {_fmt(overloaded.accepted_p95_ms).strip()} ms (target <= budget "
              f"{args.queue_budget_ms:.0f} + service p95 {solo_p95_ms:.0f} = {bound_ms:.0f})")
        priority = priority_run(server, args.seconds, batch_clients=4 * args.replicas)
        report["priority"] = priority
        print(f"\ninteractive p95 idle {priority['idle_interactive_p95_ms']:.0f} ms, while batch "
              f"saturates {priority['loaded_interactive_p95_ms']:.0f} ms: ratio "
              f"{priority['ratio']:.2f} (target <= 1.5; {priority['batch_requests_completed']:.0f}"
              " batch requests done meanwhile)")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
