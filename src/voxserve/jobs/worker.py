"""Handling one segment task: synthesize, store, record, and finish the project if last.

Idempotent: a task for a deleted, canceled or finished project, or for a segment already
done, does no synthesis (a done segment may still trigger a finalization whose finisher
died). A task that keeps failing marks its project failed on the last attempt.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from voxserve.jobs.finalize import finalize_project, segment_key
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
    ) -> None:
        self.repository = repository
        self.catalog = catalog
        self.scheduler = scheduler
        self.artifacts = artifacts
        self.webhooks = webhooks
        self.max_attempts = max_attempts

    async def handle(self, task: SegmentTaskMessage) -> None:
        try:
            await self._handle(task)
        except Exception as exc:
            if task.attempt >= self.max_attempts:
                await self._fail(task, exc)
            raise

    async def _handle(self, task: SegmentTaskMessage) -> None:
        repository = self.repository
        project = await asyncio.to_thread(repository.get_project, task.project_id)
        if project is None or project.state.finished:
            return
        segment = await asyncio.to_thread(repository.segment, task.project_id, task.index)
        if segment is None:
            return
        if segment.audio_key is None:
            await asyncio.to_thread(repository.note_attempt, task.project_id, task.index)
            audio = await synthesize_segment(self.catalog, self.scheduler, project, segment.text)
            key = segment_key(task.project_id, task.index)
            await self.artifacts.put(key, audio.pcm_s16le, "audio/pcm")
            await asyncio.to_thread(
                repository.record_segment, task.project_id, task.index, key, audio.duration_s
            )
        if await asyncio.to_thread(repository.pending_count, task.project_id) == 0:
            completed = await finalize_project(repository, self.artifacts, task.project_id)
            if completed is not None:
                self.webhooks.notify(completed.webhook_url, webhook_payload(completed))

    async def _fail(self, task: SegmentTaskMessage, error: Exception) -> None:
        message = getattr(error, "message", None) or str(error) or type(error).__name__
        text = f"segment {task.index} failed after {task.attempt} attempts: {message}"
        if await asyncio.to_thread(self.repository.fail, task.project_id, text):
            project = await asyncio.to_thread(self.repository.get_project, task.project_id)
            if project is not None:
                self.webhooks.notify(project.webhook_url, webhook_payload(project))
