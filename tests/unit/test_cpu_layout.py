"""Adaptive use of the cores: the layout decision, thread counts per CPU count, and gang
scheduling of the all-core instance with the replicas (fake engines, no model)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from voxserve import settings as settings_module
from voxserve.engines.base import SegmentRequest, SynthesisParams
from voxserve.engines.fake import FakeEngine
from voxserve.scheduler import EngineScheduler, Priority
from voxserve.scheduler.admission import AdmissionLimits
from voxserve.scheduler.layout import run_on_wide
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


async def _drain(*tasks: object) -> None:
    for task in tasks:
        async for _ in task.chunks():  # type: ignore[attr-defined]
            pass


def test_gang_scheduling_with_priorities(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, engines=["fake"])
    log: list[tuple[str, str]] = []
    gate = threading.Event()
    replicas = [_Recording(settings, f"replica{i}", log, gate) for i in range(2)]
    wide = _Recording(settings, "wide", log, gate)

    async def run() -> None:
        scheduler = EngineScheduler("fake", replicas, AdmissionLimits(100, 60.0),
                                    max_batch_size=1, max_queue_delay_s=0.0, wide=wide)
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
