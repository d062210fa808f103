"""Publishing a project's tasks exactly when its rows exist: a transactional outbox.

A project is created with its publish claimed by its creator, who then publishes tasks for
its pending segments (a few consecutive ones each) and marks the project published. If the
creator dies in between, or the broker is down, the tasks would never reach the queue; the
API server therefore runs :class:`OutboxSweeper`, which publishes the tasks of every active
project that is still unpublished once its claim is released or stale. A task published
twice is harmless: workers are idempotent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from voxserve.jobs.store.repository import JobRepository
from voxserve.jobs.tasks.queue import TaskQueue, segment_tasks

logger = logging.getLogger(__name__)

#: How often the sweeper looks for unpublished projects.
SWEEP_INTERVAL_S = 5.0


async def publish_project(repository: JobRepository, queue: TaskQueue, project_id: str,
                          segments_per_task: int) -> bool:
    """Publish the project's pending tasks and mark it published (the caller holds the
    publish claim). On failure the claim is released for the sweeper; returns False."""
    pending = await asyncio.to_thread(repository.pending_tasks, project_id)
    try:
        await queue.publish_many(segment_tasks(pending, segments_per_task))
    except Exception as exc:  # the broker is down or refused: the sweeper retries
        logger.warning("publishing tasks failed; will retry: %s", exc,
                       extra={"project_id": project_id})
        await asyncio.to_thread(repository.release_publish, project_id)
        return False
    await asyncio.to_thread(repository.mark_published, project_id)
    return True


async def sweep(repository: JobRepository, queue: TaskQueue, segments_per_task: int) -> int:
    """Publish every unpublished project whose publisher is gone; how many were published."""
    published = 0
    for project_id in await asyncio.to_thread(repository.claim_unpublished):
        if await publish_project(repository, queue, project_id, segments_per_task):
            logger.info("published the tasks of an unpublished project",
                        extra={"project_id": project_id})
            published += 1
    return published


class OutboxSweeper:
    """Runs :func:`sweep` every ``interval_s`` in the background."""

    def __init__(self, repository: JobRepository, queue: TaskQueue, segments_per_task: int,
                 interval_s: float = SWEEP_INTERVAL_S) -> None:
        self._repository = repository
        self._queue = queue
        self._segments_per_task = segments_per_task
        self._interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="outbox-sweeper")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await sweep(self._repository, self._queue, self._segments_per_task)
            except Exception:  # the database is away: try again next time
                logger.warning("outbox sweep failed", exc_info=True)
            await asyncio.sleep(self._interval_s)
