"""The worker side of the repository: the task outbox, segments started and finished,
chapter and finalization claims, and the final states of projects."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, CursorResult, and_, case, or_, select, update

from voxserve.jobs.store.base import (
    PROJECTS,
    SEGMENTS,
    RepositoryBase,
    mapping_to_segment_record,
    pending_by_chapter_in,
    to_project_record,
)
from voxserve.jobs.store.models import (
    ACTIVE_STATES,
    Chapter,
    Project,
    ProjectState,
    Segment,
    SegmentState,
    utcnow,
)
from voxserve.jobs.store.records import ProjectRecord, SegmentRecord, SegmentResult

#: A publisher that claimed a project's tasks this long ago without publishing them is taken
#: for dead (the outbox sweeper publishes them).
STALE_PUBLISH_S = 30.0

#: A finisher that claimed a project this long ago without completing it is taken for dead.
STALE_FINALIZATION_S = 600.0


def _rowcount(result: Any) -> int:
    assert isinstance(result, CursorResult)
    return int(result.rowcount)


class WorkerUpdates(RepositoryBase):
    """State changes that race: the outbox's publish claims, the workers' segment updates
    and claims, and a project's final state (completed, failed, or canceled by its owner)."""

    # --- task outbox ------------------------------------------------------------------

    def mark_published(self, project_id: str) -> None:
        """Every task of the project is on the queue."""
        with self.engine.begin() as connection:
            connection.execute(
                update(PROJECTS).where(PROJECTS.c.id == project_id)
                .values(tasks_published_at=utcnow())
            )

    def release_publish(self, project_id: str) -> None:
        """Publishing failed (broker down): let the sweeper retry at once."""
        with self.engine.begin() as connection:
            connection.execute(
                update(PROJECTS).where(PROJECTS.c.id == project_id)
                .values(publish_claimed_at=None)
            )

    def claim_unpublished(self, *, stale_after_s: float = STALE_PUBLISH_S) -> list[str]:
        """Active projects whose tasks were never published and whose publisher is gone
        (claim released or stale), claimed for the caller; oldest first."""
        now = utcnow()
        stale = now - timedelta(seconds=stale_after_s)
        projects = PROJECTS
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
        projects, segments = PROJECTS, SEGMENTS
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
            project_record = to_project_record(project, ())
            records = [mapping_to_segment_record(row._mapping) for row in rows]
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
            return pending_by_chapter_in(connection, project_id)

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

def _record(connection: Connection, project_id: str, results: Sequence[SegmentResult]) -> int:
    """Mark the pending ones of ``results``' segments done with their audio, in one
    conditional ``UPDATE``; how many it marked (a segment done before keeps its audio)."""
    if not results:
        return 0
    now = utcnow()
    projects, segments = PROJECTS, SEGMENTS
    keys = {r.index: r.audio_key for r in results}
    durations = {r.index: r.duration_s for r in results}
    words = {r.index: r.words for r in results if r.words is not None}
    values: dict[str, Any] = {
        "state": SegmentState.DONE.value, "audio_key": case(keys, value=segments.c.index),
        "duration_s": case(durations, value=segments.c.index), "done_at": now,
    }
    if words:
        values["words"] = case(words, value=segments.c.index)
    recorded = _rowcount(connection.execute(
        update(segments)
        .where(segments.c.project_id == project_id, segments.c.index.in_(list(keys)),
               segments.c.state == SegmentState.PENDING.value)
        .values(**values)
    ))
    if recorded:
        connection.execute(
            update(projects).where(projects.c.id == project_id).values(updated_at=now)
        )
    return recorded

