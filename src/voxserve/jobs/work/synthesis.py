"""One project segment through the engine scheduler at batch priority -> 16-bit PCM, and
its words' times in that PCM.

The times come from the engine's alignment (Piper: samples per phoneme,
:attr:`AudioChunk.phonemes`; :func:`~voxserve.text.word_timing.align_or_none`) and are kept
with the segment's row (``words``, see :mod:`voxserve.jobs.outputs.cue_words`); an engine
that cannot align gives none, and assembly estimates them. The words are the user's: the
segment's ``source_text`` read again as the document was (same language, no markup), whose
spoken text is the stored one; where it is not (a lexicon rewrote a word) the words pair one
to one with the spoken ones when they are as many, else the spoken words stand in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from voxserve.audio import pcm16
from voxserve.engines.base import SegmentRequest, SynthesisParams, parse_options
from voxserve.engines.catalog import EngineCatalog
from voxserve.engines.hosted import Lease
from voxserve.errors import VoxserveError
from voxserve.jobs.outputs.cue_words import CueWord
from voxserve.jobs.store.records import ProjectRecord
from voxserve.scheduler import Priority, Scheduler
from voxserve.text.prepare import TextOptions, prepare
from voxserve.text.word_timing import align_or_none, fallback_words, joined_alignment
from voxserve.text.words import SpokenWord
from voxserve.types import AudioChunk

#: long enough that reading a segment's words again never splits it
_NO_SPLIT_CHARS = 1_000_000


@dataclass(frozen=True, slots=True)
class SegmentPCM:
    pcm_s16le: bytes
    sample_rate_hz: int
    #: its words' times in this PCM; None: the engine gave no alignment
    words: tuple[CueWord, ...] | None = None

    @property
    def duration_s(self) -> float:
        return len(self.pcm_s16le) / 2 / self.sample_rate_hz


@dataclass(frozen=True, slots=True)
class Reading:
    """How the segment's words are read again: the voice's language, phoneme input."""

    language: str
    phonemes: bool


def segment_request(
    catalog: EngineCatalog, project: ProjectRecord, text: str
) -> tuple[SegmentRequest, Lease, Reading]:
    """The segment's request, and a lease on the model version it names (release it when
    the segment is done: the version is not unloaded under it)."""
    engine, voice = catalog.resolve(project.model, project.voice)
    params = SynthesisParams(speed=project.speed, options=parse_options(engine, project.options))
    lease = catalog.acquire(voice)
    reading = Reading(voice.language or "en", engine.capabilities.phoneme_input)
    return SegmentRequest(text, lease.voice.id, params), lease, reading


async def synthesize_segment(
    catalog: EngineCatalog, scheduler: Scheduler, project: ProjectRecord, text: str,
    source_text: str | None = None,
) -> SegmentPCM:
    """Queue the segment at batch priority (interactive requests go first) and collect it
    with its words' times (``source_text``: the user's words it says; None: ``text``)."""
    request, lease, reading = segment_request(catalog, project, text)
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
    words = aligned_words(chunks, text, source_text or text, reading)
    return SegmentPCM(pcm16(samples).tobytes(), rate, words)


def aligned_words(
    chunks: list[AudioChunk], text: str, source_text: str, reading: Reading
) -> tuple[CueWord, ...] | None:
    """The user's words of a segment and their times in its chunks laid end to end, from
    the engine's alignment; None without one (or one the mapping cannot read)."""
    if not chunks or any(chunk.sample_rate_hz != chunks[0].sample_rate_hz for chunk in chunks):
        return None
    phonemes = joined_alignment([chunk.phonemes for chunk in chunks])
    if phonemes is None:
        return None
    words, shown = user_words(text, source_text, reading)
    times = align_or_none(text, words, phonemes, chunks[0].sample_rate_hz)
    if times is None:
        return None
    return tuple(CueWord(word, round(start, 3), round(end, 3))
                 for word, (start, end) in zip(shown, times, strict=True))


def user_words(
    text: str, source_text: str, reading: Reading
) -> tuple[tuple[SpokenWord, ...], list[str]]:
    """The words of spoken ``text`` and the user's word each one shows (module doc)."""
    try:
        plan = prepare(source_text, TextOptions(
            language=reading.language, input_type="text", phonemes=reading.phonemes,
            inline_phonemes=False, max_segment_chars=_NO_SPLIT_CHARS,
        ))
    except VoxserveError:
        plan = None
    if plan is not None and len(plan.segments) == 1 and plan.segments[0].text == text \
            and plan.segments[0].words:
        words = plan.segments[0].words
        return words, [source_text[w.source_start:w.source_end] for w in words]
    words = fallback_words(text)
    sources = source_text.split()
    if len(sources) == len(words):
        return words, sources
    return words, [text[w.spoken_start:w.spoken_end] for w in words]
