"""Adaptive use of the cores: the layout decision, thread counts per CPU count, and gang
scheduling of the all-core instance with the replicas (fake engines, no model)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from voxserve import metrics
from voxserve import settings as settings_module
from voxserve.engines.base import SegmentRequest, SynthesisParams
from voxserve.engines.fake import FakeEngine
from voxserve.scheduler import EngineScheduler, Priority
from voxserve.scheduler.admission import AdmissionLimits
from voxserve.scheduler.layout import interrupt_wide, run_on_wide
from voxserve.settings import Settings


def test_a_lone_segment_on_idle_replicas_takes_the_wide_session() -> None:
    alone = {"has_wide": True, "batch_size": 1, "running": 0, "held": 0, "queued": 0}
    assert run_on_wide(**alone)
    assert not run_on_wide(**{**alone, "has_wide": False})
    assert not run_on_wide(**{**alone, "running": 1})  # a replica is busy
    assert not run_on_wide(**{**alone, "queued": 1})  # another segment is runnable
    assert not run_on_wide(**{**alone, "held": 1})  # another one waits for the gang
    assert not run_on_wide(**{**alone, "batch_size": 2})
    # two clients alternating: within the window the replicas keep the work
    assert not run_on_wide(**alone, concurrent_recently=True)


@pytest.mark.parametrize(
    ("elapsed_s", "wide_s", "replica_s", "stop"),
    [
        (0.005, 0.130, 0.180, True),   # two clients arriving together: both run at once
        (0.030, 0.130, 0.180, True),   # 30 < 130 - 90
        (0.045, 0.130, 0.180, False),  # past the break-even point: the newcomer waits
        (0.100, 0.130, 0.180, False),
        (0.000, 0.0, 0.180, False),    # no estimate yet: never stop blind
    ],
)
def test_a_wide_run_is_stopped_only_when_both_finish_sooner(
    elapsed_s: float, wide_s: float, replica_s: float, stop: bool
) -> None:
    assert interrupt_wide(elapsed_s=elapsed_s, wide_s=wide_s, replica_s=replica_s) is stop


@pytest.mark.parametrize(
    ("cpus", "replicas", "threads", "wide"),
    [(1, 1, 1, 0), (2, 2, 1, 2), (4, 4, 1, 4), (8, 8, 1, 8), (16, 8, 2, 16)],
)
def test_layout_for_any_cpu_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    cpus: int, replicas: int, threads: int, wide: int,
) -> None:
    monkeypatch.setattr(settings_module, "usable_cpus", lambda: cpus)
    settings = Settings(data_dir=tmp_path)
    assert settings.replicas_for("piper") == replicas
    assert settings.resolved_piper_intra_op_threads == threads
    assert settings.wide_threads_for("piper") == wide
    assert settings.wide_threads_for("maya1") == 0  # only CPU engines
    assert Settings(data_dir=tmp_path, adaptive_threads=False).wide_threads_for("piper") == 0
    # a fixed layout that already uses every core needs no wide instance
    assert Settings(data_dir=tmp_path, piper_intra_op_threads=cpus).wide_threads_for(
        "piper") == 0


class _Recording(FakeEngine):
    """A fake engine that notes which instance ran each segment and can be held."""

    def __init__(self, settings: Settings, label: str, log: list[tuple[str, str]],
                 gate: threading.Event) -> None:
        super().__init__(settings)
        self.label, self._log, self._gate = label, log, gate
        self.entered = threading.Event()

    def synthesize(self, text, voice_id, params):  # type: ignore[no-untyped-def]
        self._log.append((self.label, text))
        if text.startswith("hold"):
            self.entered.set()
            assert self._gate.wait(10)
        return super().synthesize(text, voice_id, params)


def _request(text: str) -> SegmentRequest:
    return SegmentRequest(text, "fake-tone", SynthesisParams())


def _instances(tmp_path: Path) -> tuple[Settings, list[tuple[str, str]], threading.Event,
                                        list[_Recording]]:
    """Settings, the shared log and gate, and two recording replicas."""
    settings = Settings(data_dir=tmp_path, engines=["fake"])
    log: list[tuple[str, str]] = []
    gate = threading.Event()
    return settings, log, gate, [_Recording(settings, f"replica{i}", log, gate) for i in range(2)]


def _gang_scheduler(replicas: list[_Recording], wide: FakeEngine) -> EngineScheduler:
    return EngineScheduler("fake", replicas, AdmissionLimits(100, 60.0),
                           max_batch_size=1, max_queue_delay_s=0.0, wide=wide)


async def _drain(*tasks: object) -> None:
    for task in tasks:
        async for _ in task.chunks():  # type: ignore[attr-defined]
            pass


def test_gang_scheduling_with_priorities(tmp_path: Path) -> None:
    settings, log, gate, replicas = _instances(tmp_path)
    wide = _Recording(settings, "wide", log, gate)

    async def run() -> None:
        scheduler = _gang_scheduler(replicas, wide)
        scheduler.start()
        try:
            # one client: its segment runs on the all-core instance
            await _drain(scheduler.submit(_request("alone"), Priority.INTERACTIVE))
            # held on the wide instance, two more arrive: no replica starts beside it
            holder = scheduler.submit(_request("hold wide"), Priority.INTERACTIVE)
            assert await asyncio.to_thread(wide.entered.wait, 10)
            batch = scheduler.submit(_request("batch"), Priority.BATCH)
            first = scheduler.submit(_request("first"), Priority.INTERACTIVE)
            second = scheduler.submit(_request("second"), Priority.INTERACTIVE)
            await asyncio.sleep(0.1)
            assert [text for _, text in log] == ["alone", "hold wide"]
            gate.set()
            await _drain(holder, first, second, batch)
            # just after several were runnable, a lone segment stays on a replica
            await _drain(scheduler.submit(_request("soon after"), Priority.INTERACTIVE))
        finally:
            await scheduler.stop()

    asyncio.run(run())
    where = dict((text, label) for label, text in log)
    assert where["alone"] == "wide" and where["hold wide"] == "wide"
    # several runnable: one replica each, never the wide instance; interactive first
    assert where["first"].startswith("replica") and where["second"].startswith("replica")
    assert where["first"] != where["second"]
    order = [text for _, text in log]
    assert order.index("batch") > max(order.index("first"), order.index("second"))
    assert where["soon after"].startswith("replica")


def test_a_segment_that_follows_a_finished_wide_run_stays_wide(tmp_path: Path) -> None:
    """One client's next sentence, submitted as the previous one's audio ends, arrives while
    the all-core run's thread is still returning: it follows that run, it does not run beside
    it, so it goes wide too (not to a replica for the concurrency window)."""
    settings, log, gate, replicas = _instances(tmp_path)
    returning = threading.Event()
    wide = _Recording(settings, "wide", log, gate)

    async def run() -> None:
        scheduler = _gang_scheduler(replicas, wide)
        scheduler.start()
        try:
            first = scheduler.submit(_request("first sentence"), Priority.INTERACTIVE)
            end_first = first.finish

            def finish_then_linger() -> None:  # the thread is slow to return after its end
                end_first()
                returning.set()
                assert gate.wait(10)

            first.finish = finish_then_linger  # type: ignore[method-assign]
            await _drain(first)
            assert await asyncio.to_thread(returning.wait, 10)
            second = scheduler.submit(_request("second sentence"), Priority.INTERACTIVE)
            await asyncio.sleep(0.1)
            gate.set()
            await _drain(second)
        finally:
            gate.set()
            await scheduler.stop()

    asyncio.run(run())
    assert log == [("wide", "first sentence"), ("wide", "second sentence")]


class _Stoppable(_Recording):
    """The wide instance of an interruptible engine: segments starting with "slow" block
    until :meth:`interrupt` (then raise, as onnxruntime does) or the gate opens; with
    ``chunk_first`` one chunk comes out before the block."""

    def __init__(self, *args: object, chunk_first: bool = False) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self.stopped = threading.Event()
        self.interrupts = 0
        self._chunk_first = chunk_first

    def interrupt(self) -> None:
        self.interrupts += 1
        self.stopped.set()

    def synthesize(self, text, voice_id, params):  # type: ignore[no-untyped-def]
        self._log.append((self.label, text))
        if not text.startswith("slow"):
            yield from FakeEngine.synthesize(self, text, voice_id, params)
            return
        if self._chunk_first:
            yield from FakeEngine.synthesize(self, text, voice_id, params)
        self.entered.set()
        if self.stopped.wait(10) and not self._gate.is_set():
            raise RuntimeError("Exiting due to terminate flag being set to true.")
        if not self._chunk_first:
            yield from FakeEngine.synthesize(self, text, voice_id, params)


def _interrupt_scenario(tmp_path: Path, chunk_first: bool) -> tuple[list[tuple[str, str]],
                                                                    _Stoppable, list[int]]:
    settings, log, gate, replicas = _instances(tmp_path)
    wide = _Stoppable(settings, "wide", log, gate, chunk_first=chunk_first)
    counts: list[int] = []

    async def run() -> None:
        scheduler = _gang_scheduler(replicas, wide)
        scheduler.wide_estimate.value = scheduler.estimate.value = 0.5  # seconds per char
        scheduler.start()
        try:
            lone = scheduler.submit(_request("slow lone segment"), Priority.INTERACTIVE)
            assert await asyncio.to_thread(wide.entered.wait, 10)
            newcomer = scheduler.submit(_request("newcomer"), Priority.INTERACTIVE)
            if chunk_first:  # it has spoken: the newcomer waits for the whole run
                await asyncio.sleep(0.1)
                assert [text for _, text in log] == ["slow lone segment"]
                gate.set()
                wide.stopped.set()
            for task in (lone, newcomer):
                counts.append(len([chunk async for chunk in task.chunks()]))
        finally:
            await scheduler.stop()

    asyncio.run(run())
    return log, wide, counts


def test_a_second_segment_stops_a_wide_run_that_has_not_spoken(tmp_path: Path) -> None:
    """Two clients arriving together: the first one's all-core run is stopped before its
    first audio and both run on replicas, each segment's audio delivered exactly once."""
    before = metrics.WIDE_INTERRUPTS.labels("fake")._value.get()
    log, wide, counts = _interrupt_scenario(tmp_path, chunk_first=False)
    assert wide.interrupts == 1
    assert metrics.WIDE_INTERRUPTS.labels("fake")._value.get() == before + 1
    runs = [label for label, text in log if text == "slow lone segment"]
    assert runs[0] == "wide" and runs[1].startswith("replica") and len(runs) == 2
    assert dict((text, label) for label, text in log)["newcomer"].startswith("replica")
    assert counts == [1, 1]  # nothing from the stopped run


def test_a_wide_run_that_has_spoken_is_never_stopped(tmp_path: Path) -> None:
    log, wide, counts = _interrupt_scenario(tmp_path, chunk_first=True)
    assert wide.interrupts == 0
    assert [text for label, text in log if label == "wide"] == ["slow lone segment"]
    assert counts == [1, 1]
