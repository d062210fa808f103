"""One project segment through the engine scheduler at batch priority -> 16-bit PCM."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from voxserve.audio import pcm16
from voxserve.engines.base import SegmentRequest, SynthesisParams, parse_options
from voxserve.engines.catalog import EngineCatalog
from voxserve.engines.hosted import Lease
from voxserve.jobs.store.records import ProjectRecord
from voxserve.scheduler import Priority, Scheduler


@dataclass(frozen=True, slots=True)
class SegmentPCM:
    pcm_s16le: bytes
    sample_rate_hz: int

    @property
    def duration_s(self) -> float:
        return len(self.pcm_s16le) / 2 / self.sample_rate_hz


def segment_request(
    catalog: EngineCatalog, project: ProjectRecord, text: str
) -> tuple[SegmentRequest, Lease]:
    """The segment's request, and a lease on the model version it names (release it when
    the segment is done: the version is not unloaded under it)."""
    engine, voice = catalog.resolve(project.model, project.voice)
    params = SynthesisParams(speed=project.speed, options=parse_options(engine, project.options))
    lease = catalog.acquire(voice)
    return SegmentRequest(text, lease.voice.id, params), lease


async def synthesize_segment(
    catalog: EngineCatalog, scheduler: Scheduler, project: ProjectRecord, text: str
) -> SegmentPCM:
    """Queue the segment at batch priority (interactive requests go first) and collect it."""
    request, lease = segment_request(catalog, project, text)
    try:
        engine_scheduler = scheduler.engine(project.model)
        task = engine_scheduler.submit(request, Priority.BATCH)
        try:
            chunks = [chunk async for chunk in task.chunks()]
        finally:
            engine_scheduler.cancel(task)
    finally:
        lease.release()
    rate = chunks[0].sample_rate_hz if chunks else project.sample_rate_hz
    samples = (
        np.concatenate([chunk.samples for chunk in chunks]) if chunks
        else np.zeros(0, dtype=np.float32)
    )
    return SegmentPCM(pcm16(samples).tobytes(), rate)
