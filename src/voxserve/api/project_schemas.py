"""Request and response bodies of the ``/v1/projects`` API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from voxserve.jobs.store.records import ProjectRecord
from voxserve.service.projects import ProjectStatus
from voxserve.types import AudioFormat


class ProjectTextRequest(BaseModel):
    """``POST /v1/projects`` with a JSON body: text (or Markdown) instead of a file."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1)
    markdown: bool = False
    name: str | None = Field(default=None, max_length=500)
    model: str | None = None
    voice: str | None = None
    response_format: AudioFormat | None = None
    speed: float = 1.0
    options: dict[str, Any] = Field(default_factory=dict)
    webhook_url: str | None = Field(default=None, max_length=2000)


class ChapterProgressBody(BaseModel):
    index: int
    title: str
    segments_done: int
    segments_total: int
    audio_seconds: float
    #: Its audio and subtitles can be downloaded now, before the project completes.
    ready: bool


class ProgressBody(BaseModel):
    segments_done: int
    segments_total: int
    percent: float
    audio_seconds: float
    eta_seconds: float | None
    chapters: list[ChapterProgressBody]


class ProjectBody(BaseModel):
    id: str
    object: Literal["project"] = "project"
    name: str
    title: str | None
    state: str
    model: str
    voice: str
    response_format: str
    speed: float
    error: str | None
    segments: int
    chapters: int
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    progress: ProgressBody | None = None
    files: list[str] | None = None


class ProjectList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ProjectBody]
    has_more: bool
    #: Pass as ``after`` to get the next (older) page.
    next_cursor: str | None


def project_body(project: ProjectRecord, status: ProjectStatus | None = None) -> ProjectBody:
    progress = None
    if status is not None:
        p = status.progress
        progress = ProgressBody(
            segments_done=p.segments_done, segments_total=p.segments_total,
            percent=status.percent, audio_seconds=round(p.audio_s, 3),
            eta_seconds=status.eta_s,
            chapters=[
                ChapterProgressBody(index=c.index, title=c.title, segments_done=c.segments_done,
                                    segments_total=c.segments_total,
                                    audio_seconds=round(c.audio_s, 3), ready=c.assembled)
                for c in p.chapters
            ],
        )
    return ProjectBody(
        id=project.id, name=project.name, title=project.title, state=project.state.value,
        model=project.model, voice=project.voice, response_format=project.audio_format,
        speed=project.speed, error=project.error, segments=project.segment_count,
        chapters=len(project.chapters) if project.chapters else (
            len(status.progress.chapters) if status else 0),
        created_at=project.created_at, updated_at=project.updated_at,
        finished_at=project.finished_at, progress=progress,
        files=sorted(project.files) if project.files is not None else None,
    )
