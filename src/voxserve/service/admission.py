"""Admission before any text work: a request is refused (or given its place) from its raw
input alone, so a burst of refusals costs microseconds each, not a sentence splitter's run.

The first segment's length is estimated from the raw text (``first_segment_chars``); the
place is held with that many characters until the planned job's real first segment is queued.
"""

from __future__ import annotations

from voxserve.engines.catalog import EngineCatalog
from voxserve.errors import NotReady, ShuttingDown
from voxserve.scheduler import Priority, QueueReservation, Scheduler
from voxserve.scheduler.admission import first_segment_chars
from voxserve.service.lifecycle import ServiceState
from voxserve.service.speech_job import SpeechInput
from voxserve.settings import Settings


def admit_early(
    settings: Settings,
    catalog: EngineCatalog,
    scheduler: Scheduler,
    state: ServiceState | None,
    request: SpeechInput,
    priority: Priority,
    budget_s: float | None = None,
) -> QueueReservation:
    """The request's place in its engine's queue, or ``Overloaded`` (``ShuttingDown``,
    ``NotReady``, ``ModelNotFound``/``VoiceNotFound`` as ``plan`` would say)."""
    if state is not None:
        if state.draining:
            raise ShuttingDown("the server is shutting down; retry on another instance")
        if not state.started:
            raise NotReady("engines are still loading")
    engine, _ = catalog.resolve(request.model, request.voice)
    chars = first_segment_chars(request.text, settings.max_segment_chars)
    return scheduler.engine(engine.name).reserve(priority, budget_s, chars, len(request.text))


def may_use_cache_when_refused(settings: Settings, request: SpeechInput, use_cache: bool) -> bool:
    """Whether a refused request is still worth planning to look for all of it in the cache:
    only short inputs (one segment at most), where planning is cheap and hits are likely."""
    return use_cache and settings.cache_url != "none" and (
        len(request.text) <= settings.max_segment_chars
    )
