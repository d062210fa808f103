"""The task outbox: a project's tasks reach the queue even if its creator could not publish."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path

from sqlalchemy import update

from tests.jobs_tools import new_project
from voxserve.jobs.store.database import upgrade_database
from voxserve.jobs.store.models import Project, utcnow
from voxserve.jobs.store.repository import JobRepository
from voxserve.jobs.tasks.outbox import OutboxSweeper, publish_project, sweep
from voxserve.jobs.tasks.queue import InProcessQueue, SegmentTaskMessage, TaskHandler


class RecordingQueue:
    """A queue that records what is published, or fails like a broker that is down."""

    def __init__(self) -> None:
        self.published: list[SegmentTaskMessage] = []
        self.down = False

    async def publish(self, task: SegmentTaskMessage) -> None:
        await self.publish_many([task])

    async def publish_many(self, tasks: Iterable[SegmentTaskMessage]) -> None:
        if self.down:
            raise ConnectionError("broker unreachable")
        self.published.extend(tasks)

    async def consume(self, handler: TaskHandler) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        pass


def _repository(tmp_path: Path) -> JobRepository:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    upgrade_database(url)
    return JobRepository(url)


def _age_claim(repository: JobRepository, project_id: str) -> None:
    """As if the creator claimed the publish an hour ago (and then died)."""
    with repository.engine.begin() as connection:
        connection.execute(
            update(Project).where(Project.id == project_id)
            .values(publish_claimed_at=utcnow() - timedelta(hours=1))
        )


def test_the_creator_publishes_and_the_sweeper_leaves_it_alone(tmp_path: Path) -> None:
    repository = _repository(tmp_path)
    queue = RecordingQueue()

    async def run() -> None:
        project = await asyncio.to_thread(repository.create_project, new_project())
        assert await publish_project(repository, queue, project.id, 2)
        # runs of at most 2 consecutive segments, never across chapters (of 3 and 2)
        assert [(t.project_id, t.index, t.count) for t in queue.published] == [
            (project.id, 0, 2), (project.id, 2, 1), (project.id, 3, 2)]
        assert await sweep(repository, queue, 2) == 0
        assert len(queue.published) == 3

    asyncio.run(run())


def test_a_crash_between_create_and_publish_is_repaired(tmp_path: Path) -> None:
    repository = _repository(tmp_path)
    queue = RecordingQueue()

    async def run() -> None:
        project = await asyncio.to_thread(repository.create_project, new_project())
        # the creator died before publishing: its fresh claim keeps the sweeper off …
        assert await sweep(repository, queue, 1) == 0
        # … until it is stale
        _age_claim(repository, project.id)
        repository.record_segment(project.id, 0, "k/0", 1.0)  # done meanwhile: not re-sent
        assert await sweep(repository, queue, 1) == 1
        assert [t.index for t in queue.published] == [1, 2, 3, 4]
        assert await sweep(repository, queue, 1) == 0

    asyncio.run(run())


def test_a_broker_outage_at_creation_is_retried_by_the_sweeper(tmp_path: Path) -> None:
    repository = _repository(tmp_path)
    queue = RecordingQueue()

    async def run() -> None:
        queue.down = True
        project = await asyncio.to_thread(repository.create_project, new_project())
        assert not await publish_project(repository, queue, project.id, 1)
        assert await sweep(repository, queue, 1) == 0  # still down: claim released again
        queue.down = False
        sweeper = OutboxSweeper(repository, queue, 1, interval_s=0.05)
        sweeper.start()
        try:
            for _ in range(100):
                if queue.published:
                    break
                await asyncio.sleep(0.02)
        finally:
            await sweeper.stop()
        assert [t.index for t in queue.published] == [0, 1, 2, 3, 4]
        # canceled projects are never published
        other = await asyncio.to_thread(repository.create_project, new_project())
        repository.release_publish(other.id)
        repository.cancel(other.id)
        assert await sweep(repository, queue, 1) == 0

    asyncio.run(run())


def test_inprocess_queue_satisfies_the_publisher(tmp_path: Path) -> None:
    repository = _repository(tmp_path)
    queue = InProcessQueue()

    async def run() -> None:
        project = await asyncio.to_thread(repository.create_project, new_project())
        assert await publish_project(repository, queue, project.id, 4)
        assert len(queue) == 2  # segments 0-2 and 3-4

    asyncio.run(run())
