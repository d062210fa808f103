"""The project side of the repository: create, read, list and delete projects."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import and_, delete, func, insert, or_, select

from voxserve.jobs.store.base import (
    RepositoryBase,
    pending_by_chapter_in,
    to_project_record,
    to_segment_record,
)
from voxserve.jobs.store.models import (
    ACTIVE_STATES,
    Chapter,
    Project,
    ProjectState,
    Segment,
    SegmentState,
    new_id,
    utcnow,
)
from voxserve.jobs.store.records import (
    ChapterProgress,
    NewProject,
    Progress,
    ProjectPage,
    ProjectRecord,
    SegmentRecord,
)


class ProjectQueries(RepositoryBase):
    """Creating, reading, listing and deleting projects (the API's side)."""

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
                 "source_text": source, "state": SegmentState.PENDING.value, "attempts": 0}
                for index, (c, p, s, text, source) in enumerate(document.iter_sourced())
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
            return to_project_record(project, chapters)

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
            items = tuple(to_project_record(row, ()) for row in rows[:limit])
            next_cursor = items[-1].id if len(rows) > limit and items else None
            return ProjectPage(items, next_cursor)

    def progress(self, project_id: str) -> Progress:
        return self.progress_many([project_id])[project_id]

    def progress_many(self, project_ids: Sequence[str]) -> dict[str, Progress]:
        """Each project's progress per chapter, in two queries whatever their number (a
        page of the project list); an unknown id gets an empty progress."""
        if not project_ids:
            return {}
        with self._session() as session:
            chapters = session.scalars(
                select(Chapter).where(Chapter.project_id.in_(project_ids))
                .order_by(Chapter.project_id, Chapter.index)
            ).all()
            done = {
                (row.project_id, row.chapter_index): (int(row.done), float(row.audio_s or 0.0))
                for row in session.execute(
                    select(
                        Segment.project_id,
                        Segment.chapter_index,
                        func.count().label("done"),
                        func.sum(Segment.duration_s).label("audio_s"),
                    )
                    .where(Segment.project_id.in_(project_ids),
                           Segment.state == SegmentState.DONE.value)
                    .group_by(Segment.project_id, Segment.chapter_index)
                )
            }
            per_project: dict[str, list[ChapterProgress]] = {pid: [] for pid in project_ids}
            for chapter in chapters:
                count, audio_s = done.get((chapter.project_id, chapter.index), (0, 0.0))
                per_project[chapter.project_id].append(ChapterProgress(
                    chapter.index, chapter.title, count, chapter.segment_count, audio_s,
                    chapter.assembled_at is not None,
                ))
            return {pid: Progress(tuple(items)) for pid, items in per_project.items()}

    def segment(self, project_id: str, index: int) -> SegmentRecord | None:
        with self._session() as session:
            row = session.scalars(
                select(Segment).where(Segment.project_id == project_id, Segment.index == index)
            ).first()
            return None if row is None else to_segment_record(row)

    def segments(self, project_id: str, chapter_index: int | None = None) -> list[SegmentRecord]:
        """The segments of a project (or of one of its chapters), in document order."""
        with self._session() as session:
            query = select(Segment).where(Segment.project_id == project_id)
            if chapter_index is not None:
                query = query.where(Segment.chapter_index == chapter_index)
            rows = session.scalars(query.order_by(Segment.index)).all()
            return [to_segment_record(row) for row in rows]

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
            return pending_by_chapter_in(connection, project_id)

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

    # --- deletion ---------------------------------------------------------------------

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
