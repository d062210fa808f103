"""The scheduler on fake engines: priority order, admission, cancellation, batching."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import numpy as np
import pytest
from prometheus_client import REGISTRY

from voxserve.engines.base import SegmentRequest, SynthesisParams
from voxserve.engines.fake import FakeBatchEngine, FakeEngine, tone_for
from voxserve.errors import EngineFailed, Overloaded
from voxserve.scheduler import EngineScheduler, Priority
from voxserve.scheduler.admission import AdmissionLimits
from voxserve.settings import Settings
from voxserve.types import AudioChunk


def _engine(tmp_path: Path, cls: type[FakeEngine] = FakeEngine) -> FakeEngine:
    engine = cls(Settings(data_dir=tmp_path, engines=["fake"]))
    engine.load()
    return engine


@asynccontextmanager
async def _scheduler(
    engine: FakeEngine, *, max_queue: int = 100, budget_s: float = 60.0, batch: int = 8,
    delay_s: float = 0.05,
) -> AsyncIterator[EngineScheduler]:
    scheduler = EngineScheduler(engine.name, [engine], AdmissionLimits(max_queue, budget_s),
                                max_batch_size=batch, max_queue_delay_s=delay_s)
    scheduler.start()
    try:
        yield scheduler
    finally:
        await scheduler.stop()


def _request(text: str, speed: float = 1.0) -> SegmentRequest:
    return SegmentRequest(text, "fake-tone", SynthesisParams(speed=speed))


class Gate:
    """Blocks the engine's thread on segments starting with 'hold' until opened."""

    def __init__(self) -> None:
        self.opened = threading.Event()
        self.entered = threading.Event()

    def __call__(self, text: str) -> None:
        if text.startswith("hold"):
            self.entered.set()
            assert self.opened.wait(10), "gate never opened"


async def _audio(task: object) -> list[AudioChunk]:
    return [chunk async for chunk in task.chunks()]  # type: ignore[attr-defined]


async def _wait(event: threading.Event) -> None:
    assert await asyncio.to_thread(event.wait, 10)


async def _settled(scheduler: EngineScheduler) -> None:
    """Until the replicas have recorded their last runs (after the tasks' ends)."""
    for _ in range(1000):
        if not scheduler.running():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the scheduler kept running")


def test_interactive_segments_run_before_batch_segments(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    gate = Gate()
    engine.before_segment = gate

    async def run() -> None:
        async with _scheduler(engine) as scheduler:
            blocker = scheduler.submit(_request("hold the replica"), Priority.BATCH)
            await _wait(gate.entered)
            tasks = [
                scheduler.submit(_request("batch one"), Priority.BATCH),
                scheduler.submit(_request("batch two"), Priority.BATCH),
                scheduler.submit(_request("interactive one"), Priority.INTERACTIVE),
                scheduler.submit(_request("batch three"), Priority.BATCH),
                scheduler.submit(_request("interactive two"), Priority.INTERACTIVE),
            ]
            assert scheduler.queued(Priority.BATCH) == 3
            assert scheduler.queued(Priority.INTERACTIVE) == 2
            gate.opened.set()
            for task in [blocker, *tasks]:
                await _audio(task)

    asyncio.run(run())
    assert engine.segments_synthesized == [
        "hold the replica", "interactive one", "interactive two",
        "batch one", "batch two", "batch three",
    ]


@asynccontextmanager
async def _held(tmp_path: Path, priority: Priority, *, max_queue: int
                ) -> AsyncIterator[EngineScheduler]:
    """A scheduler whose one replica is held on a segment of ``priority`` for the block."""
    engine = _engine(tmp_path)
    gate = Gate()
    engine.before_segment = gate
    async with _scheduler(engine, max_queue=max_queue) as scheduler:
        scheduler.submit(_request("hold"), priority)
        await _wait(gate.entered)
        try:
            yield scheduler
        finally:
            gate.opened.set()


def test_admission_refuses_a_full_queue(tmp_path: Path) -> None:
    async def run() -> None:
        async with _held(tmp_path, Priority.INTERACTIVE, max_queue=2) as scheduler:
            scheduler.admit(Priority.INTERACTIVE)  # queue empty: accepted
            scheduler.submit(_request("a"), Priority.INTERACTIVE)
            scheduler.submit(_request("b"), Priority.INTERACTIVE)
            before = REGISTRY.get_sample_value(
                "voxserve_rejected_requests_total", {"engine": "fake", "reason": "queue_full"}
            ) or 0.0
            with pytest.raises(Overloaded) as refused:
                scheduler.admit(Priority.INTERACTIVE)
            assert refused.value.reason == "queue_full"
            assert refused.value.retry_after_s >= 1
            after = REGISTRY.get_sample_value(
                "voxserve_rejected_requests_total", {"engine": "fake", "reason": "queue_full"}
            )
            assert after == before + 1

    asyncio.run(run())


def test_queued_batch_work_never_fills_the_queue_for_interactive_requests(
    tmp_path: Path
) -> None:
    async def run() -> None:
        async with _held(tmp_path, Priority.BATCH, max_queue=2) as scheduler:
            for text in ("a", "b", "c"):  # a conversion's segments, past the limit
                scheduler.submit(_request(text), Priority.BATCH)
            with pytest.raises(Overloaded) as refused:
                scheduler.admit(Priority.BATCH)  # more batch work: refused
            assert refused.value.reason == "queue_full"
            scheduler.admit(Priority.INTERACTIVE)  # runs before them: accepted
            scheduler.submit(_request("d"), Priority.INTERACTIVE)
            scheduler.submit(_request("e"), Priority.INTERACTIVE)
            with pytest.raises(Overloaded):  # two interactive ones queued: now full
                scheduler.admit(Priority.INTERACTIVE)

    asyncio.run(run())


def test_admission_refuses_when_estimated_wait_exceeds_budget(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    gate = Gate()
    engine.before_segment = gate

    async def run() -> None:
        async with _scheduler(engine, budget_s=1.5) as scheduler:
            scheduler.estimate.observe(1.0, 4)  # 0.25 s per character
            scheduler.submit(_request("hold"), Priority.INTERACTIVE)  # 4 chars: ~1 s left
            await _wait(gate.entered)
            assert scheduler.admit(Priority.INTERACTIVE) == pytest.approx(1.0, abs=0.2)
            scheduler.submit(_request("abcd"), Priority.BATCH)
            # Batch work queued behind does not delay an interactive request ...
            assert scheduler.admit(Priority.INTERACTIVE) == pytest.approx(1.0, abs=0.2)
            # ... but does delay another batch request: 2 s estimated > 1.5 s budget, and
            # Retry-After is that estimated wait.
            with pytest.raises(Overloaded) as refused:
                scheduler.admit(Priority.BATCH)
            assert refused.value.reason == "queue_budget"
            assert refused.value.retry_after_s == 2
            assert scheduler.admit(Priority.INTERACTIVE, budget_s=5.0) == pytest.approx(
                1.0, abs=0.2)
            # The request's own first segment counts too: 1 s ahead + 4 chars (1 s) > 1.5 s.
            with pytest.raises(Overloaded):
                scheduler.admit(Priority.INTERACTIVE, chars=4)
            gate.opened.set()

    asyncio.run(run())


def test_admission_counts_characters_not_places(tmp_path: Path) -> None:
    """Two requests hold places; what they weigh is the length of their first segments."""
    engine = _engine(tmp_path)
    gate = Gate()
    engine.before_segment = gate

    async def run() -> None:
        async with _scheduler(engine, budget_s=3.0) as scheduler:
            scheduler.estimate.observe(0.01, 1)  # 10 ms per character
            scheduler.submit(_request("hold"), Priority.INTERACTIVE)  # at most 0.04 s left
            await _wait(gate.entered)
            short = scheduler.reserve(Priority.INTERACTIVE, chars=20)  # 0.2 s of work
            assert scheduler.admit(Priority.INTERACTIVE) == pytest.approx(0.22, abs=0.03)
            long = scheduler.reserve(Priority.INTERACTIVE, chars=250)  # 2.5 s more
            with pytest.raises(Overloaded) as refused:
                scheduler.admit(Priority.INTERACTIVE, chars=100)  # 2.7 + 1.0 > 3 s
            assert refused.value.retry_after_s == 3  # ceil(2.7 s), the estimated wait
            long.release()
            assert scheduler.admit(Priority.INTERACTIVE, chars=100) == pytest.approx(
                1.22, abs=0.03)
            short.release()
            gate.opened.set()

    asyncio.run(run())


def test_cancelled_queued_segment_is_never_synthesized(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    gate = Gate()
    engine.before_segment = gate

    async def run() -> None:
        async with _scheduler(engine) as scheduler:
            blocker = scheduler.submit(_request("hold"), Priority.INTERACTIVE)
            await _wait(gate.entered)
            doomed = scheduler.submit(_request("doomed"), Priority.INTERACTIVE)
            kept = scheduler.submit(_request("kept"), Priority.INTERACTIVE)
            scheduler.cancel(doomed)
            assert scheduler.queued() == 1
            gate.opened.set()
            await _audio(blocker)
            await _audio(kept)

    asyncio.run(run())
    assert engine.segments_synthesized == ["hold", "kept"]


def test_engine_errors_reach_the_requester(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    engine.before_segment = lambda text: (_ for _ in ()).throw(RuntimeError("boom"))

    async def run() -> None:
        async with _scheduler(engine) as scheduler:
            task = scheduler.submit(_request("x"), Priority.INTERACTIVE)
            with pytest.raises(EngineFailed, match="boom"):
                await _audio(task)
            engine.before_segment = None
            assert await _audio(scheduler.submit(_request("y"), Priority.INTERACTIVE))

    asyncio.run(run())


def test_batching_groups_compatible_segments_and_routes_results(tmp_path: Path) -> None:
    engine = _engine(tmp_path, FakeBatchEngine)
    assert isinstance(engine, FakeBatchEngine)
    gate = Gate()
    engine.before_segment = gate

    async def run() -> dict[str, list[AudioChunk]]:
        async with _scheduler(engine, batch=4) as scheduler:
            blocker = scheduler.submit(_request("hold"), Priority.INTERACTIVE)
            await _wait(gate.entered)
            texts = [f"segment {n}" for n in range(6)]
            tasks = {text: scheduler.submit(_request(text), Priority.INTERACTIVE)
                     for text in texts}
            fast = scheduler.submit(_request("faster one", speed=2.0), Priority.INTERACTIVE)
            gate.opened.set()
            await _audio(blocker)
            results = {text: await _audio(task) for text, task in tasks.items()}
            results["faster one"] = await _audio(fast)
            return results

    results = asyncio.run(run())
    # The blocker ran alone, then 4 + 2 compatible segments as batches (single segments take
    # the plain synthesize path), then the one with another speed alone.
    assert engine.batch_sizes == [4, 2]
    assert engine.segments_synthesized == [
        "hold", *(f"segment {n}" for n in range(6)), "faster one"
    ]
    for text, chunks in results.items():
        speed = 2.0 if text == "faster one" else 1.0
        np.testing.assert_array_equal(np.concatenate([c.samples for c in chunks]),
                                      tone_for(text, speed))


def test_piper_runs_unbatched(catalog: object) -> None:
    piper = catalog.engine("piper")  # type: ignore[attr-defined]
    scheduler = EngineScheduler("piper", [piper], AdmissionLimits(10, 10.0), 8, 0.01)
    assert scheduler.max_batch_size == 1


class Holds:
    """Shared by several engines: segments starting with 'hold' block until released;
    counts how many are inside at once."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self._lock = threading.Lock()
        self.inside: list[str] = []
        self.most_inside = 0

    def __call__(self, text: str) -> None:
        if not text.startswith("hold"):
            return
        with self._lock:
            self.inside.append(text)
            self.most_inside = max(self.most_inside, len(self.inside))
        assert self.release.wait(10), "never released"
        with self._lock:
            self.inside.remove(text)


async def _until(condition: object, timeout_s: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():  # type: ignore[operator]
        assert asyncio.get_running_loop().time() < deadline, "condition never held"
        await asyncio.sleep(0.01)


@asynccontextmanager
async def _two_replicas(
    tmp_path: Path, holds: Holds, reserve_s: float
) -> AsyncIterator[EngineScheduler]:
    engines = [_engine(tmp_path / str(n)) for n in range(2)]
    for engine in engines:
        engine.before_segment = holds
    scheduler = EngineScheduler("fake", engines, AdmissionLimits(100, 60.0), max_batch_size=1,
                                max_queue_delay_s=0.0, interactive_reserve_s=reserve_s)
    scheduler.start()
    try:
        yield scheduler
    finally:
        holds.release.set()
        await scheduler.stop()


def test_batch_work_leaves_a_replica_free_after_interactive_traffic(tmp_path: Path) -> None:
    holds = Holds()

    async def run() -> None:
        async with _two_replicas(tmp_path, holds, reserve_s=60.0) as scheduler:
            await _audio(scheduler.submit(_request("interactive first"), Priority.INTERACTIVE))
            batch = [scheduler.submit(_request(f"hold batch {n}"), Priority.BATCH)
                     for n in range(3)]
            await _until(lambda: holds.inside)
            await asyncio.sleep(0.2)  # the other replica could take a batch segment by now
            assert holds.inside == ["hold batch 0"]
            assert scheduler.queued(Priority.BATCH) == 2
            # the kept replica serves the next interactive request at once
            await asyncio.wait_for(
                _audio(scheduler.submit(_request("interactive next"), Priority.INTERACTIVE)), 2)
            assert holds.inside == ["hold batch 0"]
            holds.release.set()
            for task in batch:
                await _audio(task)
            assert holds.most_inside == 1

    asyncio.run(run())


@pytest.mark.parametrize(("reserve_s", "interactive_first"), [(60.0, False), (0.0, True)],
                         ids=["no interactive traffic", "reservation off"])
def test_batch_work_takes_every_replica(
    tmp_path: Path, reserve_s: float, interactive_first: bool
) -> None:
    holds = Holds()

    async def run() -> None:
        async with _two_replicas(tmp_path, holds, reserve_s=reserve_s) as scheduler:
            if interactive_first:
                await _audio(scheduler.submit(_request("interactive"), Priority.INTERACTIVE))
            batch = [scheduler.submit(_request(f"hold batch {n}"), Priority.BATCH)
                     for n in range(2)]
            await _until(lambda: len(holds.inside) == 2)
            holds.release.set()
            for task in batch:
                await _audio(task)

    asyncio.run(run())


def test_the_reservation_lapses(tmp_path: Path) -> None:
    holds = Holds()

    async def run() -> None:
        async with _two_replicas(tmp_path, holds, reserve_s=0.3) as scheduler:
            await _audio(scheduler.submit(_request("interactive"), Priority.INTERACTIVE))
            batch = [scheduler.submit(_request(f"hold batch {n}"), Priority.BATCH)
                     for n in range(2)]
            await _until(lambda: holds.inside)
            assert len(holds.inside) == 1
            # 0.3 s after the interactive request the idle replica takes batch work again
            await _until(lambda: len(holds.inside) == 2, timeout_s=3.0)
            holds.release.set()
            for task in batch:
                await _audio(task)

    asyncio.run(run())


def test_reservations_count_as_queued_until_submitted_or_released(tmp_path: Path) -> None:
    engine = _engine(tmp_path)

    async def run() -> None:
        async with _scheduler(engine, max_queue=2) as scheduler:
            # the idle replica will start one of them at once: three fit (one runs, two wait)
            first = scheduler.reserve(Priority.INTERACTIVE)
            second = scheduler.reserve(Priority.INTERACTIVE)
            extra = scheduler.reserve(Priority.INTERACTIVE)
            with pytest.raises(Overloaded):
                scheduler.reserve(Priority.INTERACTIVE)  # two places would wait: full
            second.release()
            second.release()  # idempotent
            assert scheduler.reserved() == 2
            third = scheduler.reserve(Priority.INTERACTIVE)
            task = scheduler.submit(_request("first"), Priority.INTERACTIVE, first)
            assert scheduler.reserved() == 2  # the task holds the place now
            first.release()  # already handed over: no effect
            assert scheduler.reserved() == 2
            third.release()
            extra.release()
            assert scheduler.reserved() == 0
            await _audio(task)

    asyncio.run(run())


def test_interactive_traffic_is_recent_for_the_reserve_window(tmp_path: Path) -> None:
    holds = Holds()

    async def run() -> None:
        async with _two_replicas(tmp_path, holds, reserve_s=0.2) as scheduler:
            assert not scheduler.interactive_recent()
            await _audio(scheduler.submit(_request("batch"), Priority.BATCH))
            assert not scheduler.interactive_recent()
            await _audio(scheduler.submit(_request("interactive"), Priority.INTERACTIVE))
            assert scheduler.interactive_recent()
            await _until(lambda: not scheduler.interactive_recent(), timeout_s=2.0)

    asyncio.run(run())


def test_engine_busy_and_cpu_seconds_are_counted_apart(tmp_path: Path) -> None:
    """Wall time in engine calls counts as busy; only the replica thread's work as CPU."""
    engine = _engine(tmp_path)
    wait_s, spin_s = 0.3, 0.1

    def work(text: str) -> None:
        if text == "wait":
            threading.Event().wait(wait_s)
        elif text == "spin":
            deadline = time.thread_time() + spin_s
            while time.thread_time() < deadline:
                pass

    engine.before_segment = work
    labels = {"engine": "fake"}

    def sample(name: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    busy_before = sample("voxserve_engine_busy_seconds_total")
    cpu_before = sample("voxserve_engine_cpu_seconds_total")

    async def run() -> None:
        async with _scheduler(engine) as scheduler:
            # the replica records a call before it takes the next: "last" flushes "spin"
            for text in ("wait", "spin", "last"):
                await _audio(scheduler.submit(_request(text), Priority.INTERACTIVE))

    asyncio.run(run())
    busy_s = sample("voxserve_engine_busy_seconds_total") - busy_before
    cpu_s = sample("voxserve_engine_cpu_seconds_total") - cpu_before
    assert busy_s >= wait_s + spin_s
    assert spin_s <= cpu_s < spin_s + wait_s / 2


def test_admission_calibrates_on_the_real_wait_of_requests_admitted_near_the_budget(
    tmp_path: Path,
) -> None:
    """A request admitted with an estimate near the budget teaches admission how long it
    really waited for its first audio; one admitted with nothing ahead does not."""
    engine = _engine(tmp_path)
    gate = Gate()
    engine.before_segment = gate

    async def run() -> None:
        async with _scheduler(engine, budget_s=4.0) as scheduler:
            alone = scheduler.reserve(Priority.INTERACTIVE, chars=4)
            assert alone.first_audio is None  # nothing ahead: not near the budget
            await _audio(scheduler.submit(_request("abcd"), Priority.INTERACTIVE, alone))
            await _settled(scheduler)  # its run is recorded (the rate learned) after
            assert scheduler.calibration.observations == 0
            scheduler.estimate.value = 0.25  # seconds per character
            blocker = scheduler.submit(_request("hold"), Priority.INTERACTIVE)
            try:
                await _wait(gate.entered)
                near = scheduler.reserve(Priority.INTERACTIVE, chars=4)  # ~1 s + its own 1 s
                assert near.first_audio is not None
                assert near.first_audio.estimated_s == pytest.approx(2.0, abs=0.2)
                task = scheduler.submit(_request("abcd"), Priority.INTERACTIVE, near)
                await asyncio.sleep(2.5)  # the running segment takes longer than estimated
            finally:
                gate.opened.set()
            await _audio(blocker)
            await _audio(task)
            await _settled(scheduler)
            assert scheduler.calibration.observations == 1
            assert scheduler.calibration.factor > 1.0  # it ran over its estimate
            assert task.first_audio_estimate is None  # observed once

    asyncio.run(run())
