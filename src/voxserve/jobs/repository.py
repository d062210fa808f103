"""Job state in SQL: projects, their chapters and segments (SQLite or PostgreSQL).

Sync SQLAlchemy; async code calls it through ``asyncio.to_thread``. Every method is one
short transaction and returns plain records, never ORM objects. Concurrency rests on
conditional updates: :meth:`JobRepository.finish_segments` and
:meth:`JobRepository.claim_finalization` are ``UPDATE … WHERE`` statements whose row count
says whether this call did it, so any number of workers in any number of processes agree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    Connection,
    CursorResult,
    Engine,
    Row,
    Table,
    and_,
    case,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session, sessionmaker

from voxserve.jobs.database import create_db_engine
from voxserve.jobs.models import (
    ACTIVE_STATES,
    Chapter,
    Project,
    ProjectState,
    Segment,
    SegmentState,
    new_id,
    utcnow,
)
from voxserve.text.documents import Document

_PROJECTS = cast(Table, Project.__table__)
_SEGMENTS = cast(Table, Segment.__table__)

#: A publisher that claimed a project's tasks this long ago without publishing them is taken
#: for dead (the outbox sweeper publishes them).
STALE_PUBLISH_S = 30.0

#: A finisher that claimed a project this long ago without completing it is taken for dead.
STALE_FINALIZATION_S = 600.0


def aware(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes (stored as UTC); make them aware."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


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


@dataclass(frozen=True, slots=True)
class SegmentResult:
    """A synthesized segment to record: its stored audio and length."""

    index: int
    audio_key: str
    duration_s: float


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


def _rowcount(result: Any) -> int:
    assert isinstance(result, CursorResult)
    return int(result.rowcount)


class JobRepository:
    """Projects, chapters and segments in one database."""

    def __init__(self, url_or_engine: str | Engine) -> None:
        self.engine = (
            create_db_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
        )
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def close(self) -> None:
        self.engine.dispose()

    def _session(self) -> Session:
        return self._sessions()

    # --- creation ---------------------------------------------------------------------

    def create_project(self, new: NewProject) -> ProjectRecord:
        """The project with all its chapters and segments, in one transaction."""
        project_id = new_id()
        now = utcnow()
        document = new.document
        with self._session() as session, session.begin():
            session.add(Project(
                id=project_id, owner=new.owner, name=new.name[:500],
                title=(document.title or None) and (document.title or "")[:500],
                state=ProjectState.QUEUED.value, model=new.model, voice=new.voice,
                audio_format=new.audio_format, sample_rate_hz=new.sample_rate_hz,
                speed=new.speed, options=dict(new.options or {}), webhook_url=new.webhook_url,
                segment_count=document.segment_count, created_at=now, updated_at=now,
                publish_claimed_at=now,  # the creator publishes the tasks next
            ))
            session.flush()
            session.execute(insert(Chapter), [
                {"project_id": project_id, "index": c, "title": chapter.title[:1000],
                 "segment_count": sum(len(p.segments) for p in chapter.paragraphs)}
                for c, chapter in enumerate(document.chapters)
            ])
            session.execute(insert(Segment), [
                {"project_id": project_id, "index": index, "chapter_index": c,
                 "paragraph_index": p, "segment_index": s, "text": text,
                 "state": SegmentState.PENDING.value, "attempts": 0}
                for index, (c, p, s, text) in enumerate(document.iter_segments())
            ])
        created = self.get_project(project_id)
        assert created is not None
        return created

    # --- reading ----------------------------------------------------------------------

    def get_project(self, project_id: str) -> ProjectRecord | None:
        with self._session() as session:
            project = session.get(Project, project_id)
            if project is None:
                return None
            chapters = session.scalars(
                select(Chapter).where(Chapter.project_id == project_id).order_by(Chapter.index)
            ).all()
            return _project_record(project, chapters)

    def list_projects(
        self, *, limit: int = 20, after: str | None = None, owner: str | None = None
    ) -> ProjectPage:
        """Newest first; ``after`` is the id of the last project of the previous page."""
        with self._session() as session:
            query = select(Project)
            if owner is not None:
                query = query.where(Project.owner == owner)
            if after is not None:
                cursor = session.get(Project, after)
                if cursor is not None:
                    query = query.where(or_(
                        Project.created_at < cursor.created_at,
                        and_(Project.created_at == cursor.created_at, Project.id < cursor.id),
                    ))
            rows = session.scalars(
                query.order_by(Project.created_at.desc(), Project.id.desc()).limit(limit + 1)
            ).all()
            items = tuple(_project_record(row, ()) for row in rows[:limit])
            next_cursor = items[-1].id if len(rows) > limit and items else None
            return ProjectPage(items, next_cursor)

    def progress(self, project_id: str) -> Progress:
        with self._session() as session:
            chapters = session.scalars(
                select(Chapter).where(Chapter.project_id == project_id).order_by(Chapter.index)
            ).all()
            done = {
                row.chapter_index: (int(row.done), float(row.audio_s or 0.0))
                for row in session.execute(
                    select(
                        Segment.chapter_index,
                        func.count().label("done"),
                        func.sum(Segment.duration_s).label("audio_s"),
                    )
                    .where(Segment.project_id == project_id,
                           Segment.state == SegmentState.DONE.value)
                    .group_by(Segment.chapter_index)
                )
            }
            return Progress(tuple(
                ChapterProgress(
                    chapter.index, chapter.title, done.get(chapter.index, (0, 0.0))[0],
                    chapter.segment_count, done.get(chapter.index, (0, 0.0))[1],
                    chapter.assembled_at is not None,
                )
                for chapter in chapters
            ))

    def segment(self, project_id: str, index: int) -> SegmentRecord | None:
        with self._session() as session:
            row = session.scalars(
                select(Segment).where(Segment.project_id == project_id, Segment.index == index)
            ).first()
            return None if row is None else _segment_record(row)

    def segments(self, project_id: str, chapter_index: int | None = None) -> list[SegmentRecord]:
        """The segments of a project (or of one of its chapters), in document order."""
        with self._session() as session:
            query = select(Segment).where(Segment.project_id == project_id)
            if chapter_index is not None:
                query = query.where(Segment.chapter_index == chapter_index)
            rows = session.scalars(query.order_by(Segment.index)).all()
            return [_segment_record(row) for row in rows]

    def pending_count(self, project_id: str) -> int:
        with self._session() as session:
            count = session.scalar(
                select(func.count()).select_from(Segment).where(
                    Segment.project_id == project_id, Segment.state == SegmentState.PENDING.value
                )
            )
            return int(count or 0)

    def pending_by_chapter(self, project_id: str) -> dict[int, int]:
        """Pending segments per chapter (chapters without any are absent)."""
        with self.engine.connect() as connection:
            return _pending_by_chapter(connection, project_id)

    def pending_tasks(self, project_id: str | None = None) -> list[tuple[str, int, int]]:
        """(project id, segment index, chapter index) of every pending segment of
        queued/running projects, oldest project first, in document order."""
        with self._session() as session:
            query = (
                select(Segment.project_id, Segment.index, Segment.chapter_index)
                .join(Project, Project.id == Segment.project_id)
                .where(Project.state.in_(ACTIVE_STATES),
                       Segment.state == SegmentState.PENDING.value)
                .order_by(Project.created_at, Project.id, Segment.index)
            )
            if project_id is not None:
                query = query.where(Segment.project_id == project_id)
            return [(str(row[0]), int(row[1]), int(row[2])) for row in session.execute(query)]

    def unfinished_without_pending(self) -> list[str]:
        """Active projects whose segments are all done (their finisher died): finalize them."""
        with self._session() as session:
            pending = (
                select(Segment.id)
                .where(Segment.project_id == Project.id,
                       Segment.state == SegmentState.PENDING.value)
                .exists()
            )
            return list(session.scalars(
                select(Project.id).where(Project.state.in_(ACTIVE_STATES), ~pending)
            ))

    # --- task outbox ------------------------------------------------------------------

    def mark_published(self, project_id: str) -> None:
        """Every task of the project is on the queue."""
        with self.engine.begin() as connection:
            connection.execute(
                update(_PROJECTS).where(_PROJECTS.c.id == project_id)
                .values(tasks_published_at=utcnow())
            )

    def release_publish(self, project_id: str) -> None:
        """Publishing failed (broker down): let the sweeper retry at once."""
        with self.engine.begin() as connection:
            connection.execute(
                update(_PROJECTS).where(_PROJECTS.c.id == project_id)
                .values(publish_claimed_at=None)
            )

    def claim_unpublished(self, *, stale_after_s: float = STALE_PUBLISH_S) -> list[str]:
        """Active projects whose tasks were never published and whose publisher is gone
        (claim released or stale), claimed for the caller; oldest first."""
        now = utcnow()
        stale = now - timedelta(seconds=stale_after_s)
        projects = _PROJECTS
        unclaimed = and_(
            projects.c.state.in_(ACTIVE_STATES),
            projects.c.tasks_published_at.is_(None),
            or_(projects.c.publish_claimed_at.is_(None), projects.c.publish_claimed_at < stale),
        )
        claimed = []
        with self.engine.begin() as connection:
            candidates = connection.execute(
                select(projects.c.id).where(unclaimed).order_by(projects.c.created_at)
            ).scalars().all()
            for project_id in candidates:
                result = connection.execute(
                    update(projects).where(projects.c.id == project_id, unclaimed)
                    .values(publish_claimed_at=now)
                )
                if result.rowcount == 1:
                    claimed.append(str(project_id))
        return claimed

    # --- worker updates ---------------------------------------------------------------

    def start_segments(
        self, project_id: str, first: int, count: int = 1
    ) -> tuple[ProjectRecord, list[SegmentRecord]] | None:
        """A worker's first step on a task, in one transaction: the project (without its
        chapters) and its segments ``first`` … ``first + count - 1`` in order, ``None`` if
        the project or all of them are gone; for an active project, count an attempt on
        each pending one and mark a queued project running.

        Core statements rather than the ORM: this runs once per task, and its CPU is taken
        from the engine on a busy worker.
        """
        now = utcnow()
        projects, segments = _PROJECTS, _SEGMENTS
        in_task = and_(segments.c.project_id == project_id, segments.c.index >= first,
                       segments.c.index < first + count)
        with self.engine.begin() as connection:
            project = connection.execute(
                select(projects).where(projects.c.id == project_id)
            ).first()
            if project is None:
                return None
            rows = connection.execute(
                select(segments).where(in_task).order_by(segments.c.index)
            ).all()
            if not rows:
                return None
            project_record = _project_record(project, ())
            records = [_segment_from_mapping(row._mapping) for row in rows]
            if (project_record.state.value in ACTIVE_STATES
                    and any(r.state is SegmentState.PENDING for r in records)):
                connection.execute(
                    update(segments)
                    .where(in_task, segments.c.state == SegmentState.PENDING.value)
                    .values(attempts=segments.c.attempts + 1)
                )
                records = [replace(r, attempts=r.attempts + 1)
                           if r.state is SegmentState.PENDING else r for r in records]
                if project_record.state is ProjectState.QUEUED:
                    connection.execute(
                        update(projects)
                        .where(projects.c.id == project_id,
                               projects.c.state == ProjectState.QUEUED.value)
                        .values(state=ProjectState.RUNNING.value, started_at=now,
                                updated_at=now)
                    )
                    project_record = replace(project_record, state=ProjectState.RUNNING,
                                             started_at=now, updated_at=now)
            return project_record, records

    def finish_segments(
        self, project_id: str, results: Sequence[SegmentResult]
    ) -> dict[int, int]:
        """Record segments' audio (idempotently: only pending segments take it, as
        :meth:`record_segment`) and return the pending segments per chapter (chapters
        without any are absent), in one transaction."""
        with self.engine.begin() as connection:
            _record(connection, project_id, results)
            return _pending_by_chapter(connection, project_id)

    def record_segment(
        self, project_id: str, index: int, audio_key: str, duration_s: float
    ) -> bool:
        """Mark a segment done with its audio; True only for the call that did it."""
        with self.engine.begin() as connection:
            return _record(connection, project_id,
                           [SegmentResult(index, audio_key, duration_s)]) == 1

    def claim_finalization(
        self, project_id: str, *, stale_after_s: float = STALE_FINALIZATION_S
    ) -> bool:
        """True for exactly one caller once every segment is done (or after a stale claim)."""
        now = utcnow()
        stale = now - timedelta(seconds=stale_after_s)
        pending = (
            select(Segment.id)
            .where(Segment.project_id == project_id, Segment.state == SegmentState.PENDING.value)
            .exists()
        )
        with self._session() as session, session.begin():
            result = session.execute(
                update(Project)
                .where(
                    Project.id == project_id,
                    Project.state.in_(ACTIVE_STATES),
                    or_(Project.finalize_claimed_at.is_(None),
                        Project.finalize_claimed_at < stale),
                    ~pending,
                )
                .values(finalize_claimed_at=now, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            return _rowcount(result) == 1

    def claim_chapter(
        self, project_id: str, chapter_index: int, *, stale_after_s: float = STALE_FINALIZATION_S
    ) -> bool:
        """True for exactly one caller once the chapter's segments are all done, while the
        project is active and the chapter not yet assembled (or its claim is stale)."""
        now = utcnow()
        stale = now - timedelta(seconds=stale_after_s)
        pending = (
            select(Segment.id)
            .where(Segment.project_id == project_id, Segment.chapter_index == chapter_index,
                   Segment.state == SegmentState.PENDING.value)
            .exists()
        )
        active = (
            select(Project.id)
            .where(Project.id == project_id, Project.state.in_(ACTIVE_STATES))
            .exists()
        )
        with self._session() as session, session.begin():
            result = session.execute(
                update(Chapter)
                .where(
                    Chapter.project_id == project_id,
                    Chapter.index == chapter_index,
                    Chapter.assembled_at.is_(None),
                    or_(Chapter.assembly_claimed_at.is_(None),
                        Chapter.assembly_claimed_at < stale),
                    active,
                    ~pending,
                )
                .values(assembly_claimed_at=now)
                .execution_options(synchronize_session=False)
            )
            return _rowcount(result) == 1

    def chapter_assembled(self, project_id: str, chapter_index: int) -> None:
        """Record that the chapter's files are stored."""
        with self._session() as session, session.begin():
            session.execute(
                update(Chapter)
                .where(Chapter.project_id == project_id, Chapter.index == chapter_index)
                .values(assembled_at=utcnow())
            )

    def release_chapter(self, project_id: str, chapter_index: int) -> None:
        """Give up a chapter claim (assembling it failed) so it can be claimed again."""
        with self._session() as session, session.begin():
            session.execute(
                update(Chapter)
                .where(Chapter.project_id == project_id, Chapter.index == chapter_index)
                .values(assembly_claimed_at=None)
            )

    def release_finalization(self, project_id: str) -> None:
        """Give up a claim (building the outputs failed) so a retry can claim it again."""
        with self._session() as session, session.begin():
            session.execute(
                update(Project).where(Project.id == project_id).values(finalize_claimed_at=None)
            )

    def complete(self, project_id: str, files: Mapping[str, str]) -> bool:
        return self._finish(project_id, ProjectState.COMPLETED, files=dict(files))

    def fail(self, project_id: str, error: str) -> bool:
        return self._finish(project_id, ProjectState.FAILED, error=error[:4000])

    def cancel(self, project_id: str) -> bool:
        """Queued/running -> canceled; True if this call canceled it."""
        return self._finish(project_id, ProjectState.CANCELED)

    def _finish(self, project_id: str, state: ProjectState, **values: Any) -> bool:
        now = utcnow()
        with self._session() as session, session.begin():
            result = session.execute(
                update(Project)
                .where(Project.id == project_id, Project.state.in_(ACTIVE_STATES))
                .values(state=state.value, updated_at=now, finished_at=now, **values)
            )
            return _rowcount(result) == 1

    def delete(self, project_id: str) -> list[str] | None:
        """Remove the project's rows; the artifact keys it referenced (``None``: no project).

        Output file paths are returned relative to the project's folder, segment audio as
        full keys.
        """
        with self._session() as session, session.begin():
            project = session.get(Project, project_id)
            if project is None:
                return None
            keys = [
                key for key in session.scalars(
                    select(Segment.audio_key).where(Segment.project_id == project_id)
                ) if key
            ]
            keys += [f"projects/{project_id}/{path}" for path in (project.files or {}).values()]
            session.execute(delete(Segment).where(Segment.project_id == project_id))
            session.execute(delete(Chapter).where(Chapter.project_id == project_id))
            session.execute(delete(Project).where(Project.id == project_id))
            return keys


def _record(connection: Connection, project_id: str, results: Sequence[SegmentResult]) -> int:
    """Mark the pending ones of ``results``' segments done with their audio, in one
    conditional ``UPDATE``; how many it marked (a segment done before keeps its audio)."""
    if not results:
        return 0
    now = utcnow()
    projects, segments = _PROJECTS, _SEGMENTS
    keys = {r.index: r.audio_key for r in results}
    durations = {r.index: r.duration_s for r in results}
    recorded = _rowcount(connection.execute(
        update(segments)
        .where(segments.c.project_id == project_id, segments.c.index.in_(list(keys)),
               segments.c.state == SegmentState.PENDING.value)
        .values(state=SegmentState.DONE.value,
                audio_key=case(keys, value=segments.c.index),
                duration_s=case(durations, value=segments.c.index),
                done_at=now)
    ))
    if recorded:
        connection.execute(
            update(projects).where(projects.c.id == project_id).values(updated_at=now)
        )
    return recorded


def _pending_by_chapter(connection: Connection, project_id: str) -> dict[int, int]:
    segments = _SEGMENTS
    rows = connection.execute(
        select(segments.c.chapter_index, func.count())
        .where(segments.c.project_id == project_id,
               segments.c.state == SegmentState.PENDING.value)
        .group_by(segments.c.chapter_index)
    )
    return {int(chapter): int(count) for chapter, count in rows}


def _segment_from_mapping(row: Mapping[Any, Any]) -> SegmentRecord:
    return SegmentRecord(
        project_id=row["project_id"], index=row["index"], chapter_index=row["chapter_index"],
        paragraph_index=row["paragraph_index"], segment_index=row["segment_index"],
        text=row["text"], state=SegmentState(row["state"]), audio_key=row["audio_key"],
        duration_s=row["duration_s"], attempts=row["attempts"],
    )


def _project_record(project: Project | Row[Any], chapters: Sequence[Chapter]) -> ProjectRecord:
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


def _segment_record(row: Segment) -> SegmentRecord:
    return SegmentRecord(
        project_id=row.project_id, index=row.index, chapter_index=row.chapter_index,
        paragraph_index=row.paragraph_index, segment_index=row.segment_index, text=row.text,
        state=SegmentState(row.state), audio_key=row.audio_key, duration_s=row.duration_s,
        attempts=row.attempts,
    )
