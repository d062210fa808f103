"""Handling one segment task: synthesize, store, record; assemble the chapter and finish
the project when the segment was their last.

Idempotent: a task for a deleted, canceled or finished project, or for a segment already
done, does no synthesis (a done segment may still trigger a finalization whose finisher
died). A task that keeps failing marks its project failed on the last attempt.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from voxserve.jobs.background import BackgroundPool
from voxserve.jobs.chapters import assemble_if_complete, segment_key
from voxserve.jobs.finalize import finalize_project
from voxserve.jobs.queue import SegmentTaskMessage
from voxserve.jobs.repository import JobRepository, ProjectRecord
from voxserve.jobs.synthesis import synthesize_segment
from voxserve.jobs.webhook import WebhookNotifier
from voxserve.scheduler import Scheduler
from voxserve.service.catalog import EngineCatalog
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

    async def handle(self, task: SegmentTaskMessage) -> None:
        try:
            await self._handle(task)
        except Exception as exc:
            if task.attempt >= self.max_attempts:
                await self._fail(task, exc)
            raise

    async def _handle(self, task: SegmentTaskMessage) -> None:
        repository = self.repository
        started = await asyncio.to_thread(repository.start_segment, task.project_id, task.index)
        if started is None:
            return
        project, segment = started
        if project.state.finished:
            return
        if segment.audio_key is None:
            audio = await synthesize_segment(self.catalog, self.scheduler, project, segment.text)
            key = segment_key(task.project_id, task.index)
            await self.artifacts.put(key, audio.pcm_s16le, "audio/pcm")
            chapter_pending, project_pending = await asyncio.to_thread(
                repository.finish_segment, task.project_id, task.index, segment.chapter_index,
                key, audio.duration_s,
            )
        else:  # done before (a redelivered task): finish what its worker may not have
            chapter_pending, project_pending = await asyncio.to_thread(
                repository.pending_counts, task.project_id, segment.chapter_index
            )
        if chapter_pending == 0:
            # encode the finished chapter now, while the other replicas go on synthesizing
            await assemble_if_complete(repository, self.artifacts, project,
                                       segment.chapter_index, self.background)
        if project_pending == 0:
            completed = await finalize_project(repository, self.artifacts, task.project_id,
                                               self.background)
            if completed is not None:
                self.webhooks.notify(completed.webhook_url, webhook_payload(completed))

    async def _fail(self, task: SegmentTaskMessage, error: Exception) -> None:
        message = getattr(error, "message", None) or str(error) or type(error).__name__
        text = f"segment {task.index} failed after {task.attempt} attempts: {message}"
        if await asyncio.to_thread(self.repository.fail, task.project_id, text):
            project = await asyncio.to_thread(self.repository.get_project, task.project_id)
            if project is not None:
                self.webhooks.notify(project.webhook_url, webhook_payload(project))
