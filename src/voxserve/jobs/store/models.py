"""The job database's tables (SQLAlchemy 2 declarative): projects, chapters, segments."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class ProjectState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def finished(self) -> bool:
        return self in (ProjectState.COMPLETED, ProjectState.FAILED, ProjectState.CANCELED)


ACTIVE_STATES = (ProjectState.QUEUED.value, ProjectState.RUNNING.value)


class SegmentState(StrEnum):
    PENDING = "pending"
    DONE = "done"


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


class Base(DeclarativeBase):
    pass


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    #: Who created it: the principal's stable id (``key:<API key id>``, ``jwt:<sub>``;
    #: ``legacy:<name>`` for projects made before ids were stored), ``None`` without auth.
    owner: Mapped[str | None] = mapped_column(String(255), index=True)
    name: Mapped[str] = mapped_column(String(500))
    title: Mapped[str | None] = mapped_column(String(500))
    state: Mapped[str] = mapped_column(String(16), default=ProjectState.QUEUED.value)
    model: Mapped[str] = mapped_column(String(100))
    voice: Mapped[str] = mapped_column(String(200))
    audio_format: Mapped[str] = mapped_column(String(16))
    sample_rate_hz: Mapped[int] = mapped_column(Integer)
    speed: Mapped[float] = mapped_column(Float, default=1.0)
    #: Engine options (validated by the engine's options model at creation).
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    webhook_url: Mapped[str | None] = mapped_column(String(2000))
    error: Mapped[str | None] = mapped_column(Text)
    segment_count: Mapped[int] = mapped_column(Integer)
    #: Output files once completed: logical name -> path relative to the project's folder.
    files: Mapped[dict[str, str] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: Set by the one finisher that builds the outputs (stale claims may be taken over).
    finalize_claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: Outbox: set when someone starts publishing the project's tasks (its creator, at
    #: creation; a sweeper once that claim is stale and the tasks are still unpublished).
    publish_claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: Set once every task of the project was handed to the queue.
    tasks_published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    chapters: Mapped[list[Chapter]] = relationship(
        back_populates="project", cascade="all, delete-orphan", passive_deletes=True,
        order_by="Chapter.index",
    )

    __table_args__ = (Index("ix_projects_created", "created_at", "id"),)


class Chapter(Base):
    __tablename__ = "chapters"

    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    index: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(1000))
    segment_count: Mapped[int] = mapped_column(Integer)
    #: Set by the one worker that encodes the chapter once its segments are done (a stale
    #: claim may be taken over; the project's finisher assembles whatever is left).
    assembly_claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: Its audio, subtitles and cue list are stored (see :mod:`voxserve.jobs.work.chapters`).
    assembled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    project: Mapped[Project] = relationship(back_populates="chapters")


class Segment(Base):
    __tablename__ = "segments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    #: Position in the whole document (0-based); the order of the audio.
    index: Mapped[int] = mapped_column(Integer)
    chapter_index: Mapped[int] = mapped_column(Integer)
    paragraph_index: Mapped[int] = mapped_column(Integer)
    #: Position within its paragraph.
    segment_index: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    #: The user's words it says (subtitles, cues); NULL in rows written before (use text).
    source_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: Its words' times in its audio, JSON; NULL: not aligned or written before (estimate).
    words: Mapped[str | None] = mapped_column(Text, nullable=True)
    state: Mapped[str] = mapped_column(String(16), default=SegmentState.PENDING.value)
    audio_key: Mapped[str | None] = mapped_column(String(1024))
    duration_s: Mapped[float | None] = mapped_column(Float)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        UniqueConstraint("project_id", "index", name="uq_segments_project_index"),
        Index("ix_segments_project_state", "project_id", "state"),
    )
