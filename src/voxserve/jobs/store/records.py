"""The plain records :class:`~voxserve.jobs.store.repository.JobRepository` takes and returns
(never ORM objects)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from voxserve.jobs.store.models import ProjectState, SegmentState
from voxserve.text.documents import Document


@dataclass(frozen=True, slots=True)
class NewProject:
    """What a project is created from (validated by the service first)."""

    name: str
    document: Document
    model: str
    voice: str
    audio_format: str
    sample_rate_hz: int
    speed: float = 1.0
    options: Mapping[str, Any] | None = None
    webhook_url: str | None = None
    owner: str | None = None


@dataclass(frozen=True, slots=True)
class ChapterRecord:
    index: int
    title: str
    segment_count: int
    #: Its files are stored (encoded as soon as its segments were done).
    assembled: bool = False


@dataclass(frozen=True, slots=True)
class ProjectRecord:
    id: str
    owner: str | None
    name: str
    title: str | None
    state: ProjectState
    model: str
    voice: str
    audio_format: str
    sample_rate_hz: int
    speed: float
    options: dict[str, Any]
    webhook_url: str | None
    error: str | None
    segment_count: int
    files: dict[str, str] | None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    chapters: tuple[ChapterRecord, ...]


@dataclass(frozen=True, slots=True)
class SegmentRecord:
    project_id: str
    index: int
    chapter_index: int
    paragraph_index: int
    segment_index: int
    text: str
    state: SegmentState
    audio_key: str | None
    duration_s: float | None
    attempts: int
    #: The user's words it says (None for rows from before they were kept: use ``text``).
    source_text: str | None = None
    #: Its words' times in its audio, JSON (:mod:`voxserve.jobs.outputs.cue_words`); None:
    #: not aligned, or a row from before they were kept (assembly estimates them).
    words: str | None = None

    @property
    def shown_text(self) -> str:
        """What subtitles and cues show: the user's words."""
        return self.source_text or self.text


@dataclass(frozen=True, slots=True)
class SegmentResult:
    """A synthesized segment to record: its stored audio and length."""

    index: int
    audio_key: str
    duration_s: float
    #: its words' times, JSON (None: the engine gave no alignment)
    words: str | None = None


@dataclass(frozen=True, slots=True)
class ChapterProgress:
    index: int
    title: str
    segments_done: int
    segments_total: int
    audio_s: float
    #: its audio and subtitles are stored (downloadable before the project completes)
    assembled: bool = False


@dataclass(frozen=True, slots=True)
class Progress:
    chapters: tuple[ChapterProgress, ...]

    @property
    def segments_done(self) -> int:
        return sum(chapter.segments_done for chapter in self.chapters)

    @property
    def segments_total(self) -> int:
        return sum(chapter.segments_total for chapter in self.chapters)

    @property
    def audio_s(self) -> float:
        return sum(chapter.audio_s for chapter in self.chapters)


@dataclass(frozen=True, slots=True)
class ProjectPage:
    items: tuple[ProjectRecord, ...]
    #: Pass as ``after`` for the next (older) page; ``None`` on the last page.
    next_cursor: str | None
