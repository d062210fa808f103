"""The job machinery of one process: database, queue, workers, webhooks, task outbox.

The API server and ``voxserve convert`` build one :class:`JobRuntime`; with the in-process
queue it also runs the workers (at batch priority, through the process's scheduler) and, on
start-up, re-enqueues every pending segment of unfinished projects. With RabbitMQ the API
only publishes, and ``voxserve worker`` processes run :class:`SegmentWorker` s.
"""

from __future__ import annotations

import asyncio
import logging

from voxserve.engines.catalog import EngineCatalog
from voxserve.jobs.store.database import upgrade_database
from voxserve.jobs.store.repository import JobRepository
from voxserve.jobs.tasks.factory import create_queue, is_inprocess
from voxserve.jobs.tasks.outbox import OutboxSweeper
from voxserve.jobs.tasks.queue import SegmentTaskMessage, TaskQueue, segment_tasks
from voxserve.jobs.work.webhook import WebhookNotifier
from voxserve.jobs.work.worker import SegmentWorker
from voxserve.scheduler import Scheduler
from voxserve.security.outbound import OutboundPolicy
from voxserve.settings import Settings
from voxserve.storage import ArtifactStore

logger = logging.getLogger(__name__)


class JobRuntime:
    def __init__(
        self,
        settings: Settings,
        catalog: EngineCatalog,
        scheduler: Scheduler,
        artifacts: ArtifactStore,
        *,
        database_url: str | None = None,
    ) -> None:
        self.settings = settings
        self.database_url = database_url or settings.resolved_database_url
        self.repository = JobRepository(self.database_url)
        self.queue: TaskQueue = create_queue(settings, concurrency=settings.task_concurrency)
        self.webhooks = WebhookNotifier(
            timeout_s=settings.webhook_timeout_s, max_attempts=settings.webhook_max_attempts,
            secret=(settings.webhook_secret.get_secret_value()
                    if settings.webhook_secret else None),
            policy=OutboundPolicy.from_entries(settings.webhook_allowed_hosts),
        )
        self.worker = SegmentWorker(
            self.repository, catalog, scheduler, artifacts, self.webhooks,
            max_attempts=settings.task_max_attempts,
        )
        self.runs_workers = is_inprocess(settings)
        #: With RabbitMQ: publishes the tasks of projects whose creator could not.
        self.outbox = None if self.runs_workers else OutboxSweeper(
            self.repository, self.queue, settings.segments_per_task)

    async def open(self) -> None:
        """Migrate the database; with the in-process queue, re-enqueue unfinished work."""
        await asyncio.to_thread(upgrade_database, self.database_url)
        if self.runs_workers:
            await self.resume()
        elif self.outbox is not None:
            self.outbox.start()

    async def resume(self) -> int:
        """Enqueue every pending segment of queued/running projects, and one task for each
        unfinished project whose segments are all done (its finisher died)."""
        pending = await asyncio.to_thread(self.repository.pending_tasks)
        orphans = await asyncio.to_thread(self.repository.unfinished_without_pending)
        tasks = segment_tasks(pending, self.settings.segments_per_task)
        tasks += [SegmentTaskMessage(project_id, 0) for project_id in orphans]
        await self.queue.publish_many(tasks)
        if tasks:
            logger.info("resumed projects", extra={"tasks": len(tasks)})
        return len(tasks)

    async def start_workers(self) -> None:
        """With the in-process queue: consume ``task_concurrency`` tasks at once."""
        if not self.runs_workers:
            return
        await self.queue.consume(self.worker.handle)

    async def close(self) -> None:
        if self.outbox is not None:
            await self.outbox.stop()
        self.worker.background.close()
        await self.queue.close()
        await self.webhooks.close()
        await asyncio.to_thread(self.repository.close)
