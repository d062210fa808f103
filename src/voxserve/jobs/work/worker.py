"""Handling one segment task: synthesize its segments, store them, record them; assemble a
chapter and finish the project when the task held their last segments.

Idempotent: a task for a deleted, canceled or finished project, or for a segment already
done, does no synthesis (a done segment may still trigger a finalization whose finisher
died). A task that keeps failing marks its project failed on the last attempt.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from voxserve.engines.catalog import EngineCatalog
from voxserve.jobs.outputs.cue_words import words_to_json
from voxserve.jobs.store.records import ProjectRecord, SegmentRecord, SegmentResult
from voxserve.jobs.store.repository import JobRepository
from voxserve.jobs.tasks.queue import SegmentTaskMessage
from voxserve.jobs.work.background import BackgroundPool
from voxserve.jobs.work.chapters import assemble_if_complete, segment_key
from voxserve.jobs.work.finalize import finalize_project
from voxserve.jobs.work.synthesis import synthesize_segment
from voxserve.jobs.work.webhook import WebhookNotifier
from voxserve.scheduler import Scheduler
from voxserve.storage import ArtifactStore

logger = logging.getLogger(__name__)


def webhook_payload(project: ProjectRecord) -> dict[str, Any]:
    return {
        "project_id": project.id, "state": project.state.value, "name": project.name,
        "error": project.error, "segments": project.segment_count,
        "files": sorted(project.files or {}),
    }


class SegmentWorker:
    def __init__(
        self,
        repository: JobRepository,
        catalog: EngineCatalog,
        scheduler: Scheduler,
        artifacts: ArtifactStore,
        webhooks: WebhookNotifier,
        *,
        max_attempts: int,
        background: BackgroundPool | None = None,
    ) -> None:
        self.repository = repository
        self.catalog = catalog
        self.scheduler = scheduler
        self.artifacts = artifacts
        self.webhooks = webhooks
        self.max_attempts = max_attempts
        #: Threads for encoding chapters and books; they yield to interactive requests.
        self.background = background or BackgroundPool(yield_to=scheduler.interactive_recent)
        #: In-flight segment syntheses per project, so canceling a project stops them.
        self._running: dict[str, set[asyncio.Future[SegmentResult]]] = {}

    def cancel_project(self, project_id: str) -> None:
        """Stop this process's in-flight segments of a canceled or deleted project (their
        tasks end without recording anything; tasks not started yet find it canceled)."""
        for job in self._running.get(project_id, ()):
            job.cancel()

    async def handle(self, task: SegmentTaskMessage) -> None:
        try:
            await self._handle(task)
        except Exception as exc:
            if task.attempt >= self.max_attempts:
                await self._fail(task, exc)
            raise

    async def _handle(self, task: SegmentTaskMessage) -> None:
        repository = self.repository
        started = await asyncio.to_thread(
            repository.start_segments, task.project_id, task.index, task.count
        )
        if started is None:
            return
        project, segments = started
        if project.state.finished:
            return
        todo = [segment for segment in segments if segment.audio_key is None]
        if todo:
            results = await self._synthesize_all(project, todo)
            if results is None:  # the project was canceled meanwhile
                return
            pending = await asyncio.to_thread(repository.finish_segments, task.project_id,
                                              results)
        else:  # done before (a redelivered task): finish what its worker may not have
            pending = await asyncio.to_thread(repository.pending_by_chapter, task.project_id)
        for chapter in sorted({segment.chapter_index for segment in segments}):
            if chapter not in pending:
                # encode the finished chapter now, while the replicas go on synthesizing
                await assemble_if_complete(repository, self.artifacts, project, chapter,
                                           self.background)
        if not pending:
            completed = await finalize_project(repository, self.artifacts, task.project_id,
                                               self.background)
            if completed is not None:
                self.webhooks.notify(completed.webhook_url, webhook_payload(completed))

    async def _synthesize_all(
        self, project: ProjectRecord, segments: list[SegmentRecord]
    ) -> list[SegmentResult] | None:
        """Queue every segment at once (the replicas take them in parallel, interactive
        requests still first) and store each one's audio; if one fails, the others are
        stopped and the error raised. ``None`` when :meth:`cancel_project` stopped them."""
        jobs = [asyncio.ensure_future(self._synthesize(project, segment))
                for segment in segments]
        running = self._running.setdefault(project.id, set())
        running.update(jobs)
        try:
            return list(await asyncio.gather(*jobs))
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # this task itself is being canceled (shutdown)
            return None  # canceled through cancel_project
        except BaseException:
            for job in jobs:
                job.cancel()
            await asyncio.gather(*jobs, return_exceptions=True)
            raise
        finally:
            running.difference_update(jobs)
            if not running:
                self._running.pop(project.id, None)

    async def _synthesize(self, project: ProjectRecord, segment: SegmentRecord) -> SegmentResult:
        audio = await synthesize_segment(self.catalog, self.scheduler, project, segment.text,
                                         segment.source_text)
        key = segment_key(project.id, segment.index)
        await self.artifacts.put(key, audio.pcm_s16le, "audio/pcm")
        words = None if audio.words is None else words_to_json(audio.words)
        return SegmentResult(segment.index, key, audio.duration_s, words)

    async def _fail(self, task: SegmentTaskMessage, error: Exception) -> None:
        message = getattr(error, "message", None) or str(error) or type(error).__name__
        text = f"{task.describe()} failed after {task.attempt} attempts: {message}"
        if await asyncio.to_thread(self.repository.fail, task.project_id, text):
            project = await asyncio.to_thread(self.repository.get_project, task.project_id)
            if project is not None:
                self.webhooks.notify(project.webhook_url, webhook_payload(project))
