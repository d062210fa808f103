"""What both halves of the repository share: its engine and sessions, the table handles,
and the conversion of rows to records."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Connection, Engine, Row, Table, func, select
from sqlalchemy.orm import Session, sessionmaker

from voxserve.jobs.store.database import create_db_engine
from voxserve.jobs.store.models import Chapter, Project, ProjectState, Segment, SegmentState
from voxserve.jobs.store.records import ChapterRecord, ProjectRecord, SegmentRecord

PROJECTS = cast(Table, Project.__table__)
SEGMENTS = cast(Table, Segment.__table__)


def aware(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes (stored as UTC); make them aware."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


class RepositoryBase:
    """The database of a :class:`~voxserve.jobs.store.repository.JobRepository`."""

    def __init__(self, url_or_engine: str | Engine) -> None:
        self.engine = (
            create_db_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
        )
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def close(self) -> None:
        self.engine.dispose()

    def _session(self) -> Session:
        return self._sessions()


def pending_by_chapter_in(connection: Connection, project_id: str) -> dict[int, int]:
    segments = SEGMENTS
    rows = connection.execute(
        select(segments.c.chapter_index, func.count())
        .where(segments.c.project_id == project_id,
               segments.c.state == SegmentState.PENDING.value)
        .group_by(segments.c.chapter_index)
    )
    return {int(chapter): int(count) for chapter, count in rows}


def mapping_to_segment_record(row: Mapping[Any, Any]) -> SegmentRecord:
    return SegmentRecord(
        project_id=row["project_id"], index=row["index"], chapter_index=row["chapter_index"],
        paragraph_index=row["paragraph_index"], segment_index=row["segment_index"],
        text=row["text"], state=SegmentState(row["state"]), audio_key=row["audio_key"],
        duration_s=row["duration_s"], attempts=row["attempts"],
        source_text=row.get("source_text"), words=row.get("words"),
    )


def to_project_record(project: Project | Row[Any], chapters: Sequence[Chapter]) -> ProjectRecord:
    created_at = aware(project.created_at)
    updated_at = aware(project.updated_at)
    assert created_at is not None and updated_at is not None
    return ProjectRecord(
        id=project.id, owner=project.owner, name=project.name, title=project.title,
        state=ProjectState(project.state), model=project.model, voice=project.voice,
        audio_format=project.audio_format, sample_rate_hz=project.sample_rate_hz,
        speed=project.speed, options=dict(project.options or {}),
        webhook_url=project.webhook_url, error=project.error,
        segment_count=project.segment_count,
        files=dict(project.files) if project.files is not None else None,
        created_at=created_at, updated_at=updated_at,
        started_at=aware(project.started_at), finished_at=aware(project.finished_at),
        chapters=tuple(
            ChapterRecord(c.index, c.title, c.segment_count, c.assembled_at is not None)
            for c in chapters
        ),
    )


def to_segment_record(row: Segment) -> SegmentRecord:
    return SegmentRecord(
        project_id=row.project_id, index=row.index, chapter_index=row.chapter_index,
        paragraph_index=row.paragraph_index, segment_index=row.segment_index, text=row.text,
        state=SegmentState(row.state), audio_key=row.audio_key, duration_s=row.duration_s,
        attempts=row.attempts, source_text=row.source_text, words=row.words,
    )
