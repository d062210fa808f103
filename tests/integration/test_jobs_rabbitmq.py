"""Segment tasks over a real RabbitMQ: retries to the dead-letter queue, redelivery after a
worker is SIGKILLed, duplicates acknowledged without work. Unique queue names per test."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aio_pika
import pytest

from tests.jobs_tools import new_project
from voxserve.engines.catalog import EngineCatalog
from voxserve.jobs.runtime import JobRuntime
from voxserve.jobs.store.database import upgrade_database
from voxserve.jobs.store.models import ProjectState
from voxserve.jobs.store.repository import JobRepository
from voxserve.jobs.tasks.queue import SegmentTaskMessage
from voxserve.jobs.tasks.rabbitmq import RabbitMQQueue
from voxserve.scheduler import Scheduler
from voxserve.service.projects import ProjectService, ProjectSpec
from voxserve.settings import Settings
from voxserve.storage import LocalArtifactStore

pytestmark = pytest.mark.integration

AMQP_URL = os.environ.get("VOXSERVE_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


async def _reachable() -> bool:
    try:
        connection = await aio_pika.connect(AMQP_URL, timeout=3)
    except Exception:
        return False
    await connection.close()
    return True


@pytest.fixture
def queue_name() -> Iterator[str]:
    if not asyncio.run(_reachable()):
        pytest.skip(f"RabbitMQ at {AMQP_URL} is not reachable")
    name = f"voxserve-test-{uuid.uuid4().hex[:10]}"
    yield name

    async def cleanup() -> None:
        connection = await aio_pika.connect(AMQP_URL)
        channel = await connection.channel()
        for suffix in ("", ".retry", ".dead"):
            await channel.queue_delete(name + suffix)
        await connection.close()

    asyncio.run(cleanup())


async def _message_count(name: str) -> int:
    connection = await aio_pika.connect(AMQP_URL)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(name, passive=True)
        return int(queue.declaration_result.message_count or 0)
    finally:
        await connection.close()


def test_failing_task_goes_to_dead_letter_queue_after_max_attempts(queue_name: str) -> None:
    attempts: list[int] = []

    async def scenario() -> None:
        queue = RabbitMQQueue(AMQP_URL, queue_name, max_attempts=3, retry_base_delay_ms=20)

        async def handler(task: SegmentTaskMessage) -> None:
            attempts.append(task.attempt)
            raise RuntimeError("always fails")

        await queue.publish(SegmentTaskMessage("p1", 4))
        await queue.consume(handler)
        deadline = time.monotonic() + 20
        while await _message_count(f"{queue_name}.dead") < 1:
            assert time.monotonic() < deadline, attempts
            await asyncio.sleep(0.05)
        await queue.close()
        connection = await aio_pika.connect(AMQP_URL)
        channel = await connection.channel()
        dead = await (await channel.declare_queue(f"{queue_name}.dead", passive=True)).get()
        assert dead is not None
        assert SegmentTaskMessage.from_json(dead.body) == SegmentTaskMessage("p1", 4)
        assert dead.headers["x-voxserve-error"] == "always fails"
        await dead.ack()
        await connection.close()

    asyncio.run(scenario())
    assert attempts == [1, 2, 3]


def _start_worker(data_dir: Path, queue_name: str, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ, "VOXSERVE_DATA_DIR": str(data_dir), "VOXSERVE_ENGINES": "fake",
        "VOXSERVE_DEFAULT_MODEL": "fake", "VOXSERVE_QUEUE_URL": AMQP_URL,
        "VOXSERVE_QUEUE_NAME": queue_name, "VOXSERVE_WORKER_PREFETCH": "2",
    }
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "voxserve", "worker"], env=env,
                                stdout=out, stderr=subprocess.STDOUT)


def _publish(queue_name: str, tasks: list[SegmentTaskMessage]) -> None:
    async def send() -> None:
        queue = RabbitMQQueue(AMQP_URL, queue_name)
        await queue.publish_many(tasks)
        await queue.close()

    asyncio.run(send())


def _wait(condition: object, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_sigkilled_worker_loses_nothing_and_duplicates_do_no_work(
    queue_name: str, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'voxserve.db'}"
    upgrade_database(url)
    repository = JobRepository(url)
    text = "\n\n".join(f"## Chapter {c}\n\n" + " ".join(
        f"Chapter {c} sentence {n} is spoken." for n in range(5)) for c in range(3))
    project = repository.create_project(new_project(text, options={"sleep_ms": 120}))
    total = project.segment_count
    assert total == 15
    log = tmp_path / "workers.log"
    first = _start_worker(tmp_path, queue_name, log)
    second: subprocess.Popen[bytes] | None = None
    try:
        _publish(queue_name, [SegmentTaskMessage(project.id, i) for i in range(total)])
        _wait(lambda: repository.progress(project.id).segments_done >= 3, 60, log.read_text())
        first.kill()  # SIGKILL mid-project: its unacked tasks go back to the queue
        first.wait(10)
        assert repository.progress(project.id).segments_done < total
        second = _start_worker(tmp_path, queue_name, log)

        def completed() -> bool:
            done = repository.get_project(project.id)
            assert done is not None and done.state is not ProjectState.FAILED, done
            return done.state is ProjectState.COMPLETED

        _wait(completed, 60, log.read_text())
        segments = repository.segments(project.id)
        assert [s.index for s in segments] == list(range(total))
        assert all(s.audio_key and s.audio_key.endswith(f"{s.index:06d}.pcm") for s in segments)
        vtt = (tmp_path / "artifacts" / "projects" / project.id / "files" / "book.vtt")
        cues = [line for line in vtt.read_text().splitlines()
                if line and "-->" not in line and line[0].isalpha() and line != "WEBVTT"]
        # every segment exactly once, in order, in the user's words
        assert cues == [s.shown_text for s in segments]
        attempts = {s.index: s.attempts for s in segments}
        # a duplicate (redelivered) task of a done segment is acknowledged without synthesis
        _publish(queue_name, [SegmentTaskMessage(project.id, 0), SegmentTaskMessage(project.id, 0)])
        _wait(lambda: asyncio.run(_message_count(queue_name)) == 0, 20, "queue not drained")
        time.sleep(0.3)
        assert {s.index: s.attempts for s in repository.segments(project.id)} == attempts
        finished = repository.get_project(project.id)
        assert finished is not None and finished.state is ProjectState.COMPLETED
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
        repository.close()


async def _count_if_declared(name: str) -> int:
    try:
        return await _message_count(name)
    except aio_pika.exceptions.ChannelNotFoundEntity:  # not declared yet: nothing published
        return 0


def _runtime_parts(tmp_path: Path, queue_url: str, queue_name: str) -> tuple[Any, Any]:
    settings = Settings(data_dir=tmp_path, engines=["fake"], default_model="fake",
                        cache_url="none", queue_url=queue_url, queue_name=queue_name)
    catalog = EngineCatalog(settings)
    catalog.load()
    return settings, catalog


def test_tasks_lost_at_creation_are_published_by_the_api_outbox(
    queue_name: str, tmp_path: Path
) -> None:
    """The broker is down when a project is created (or its creator dies before
    publishing): the project is still accepted, and the API server's outbox sweeper
    publishes its tasks once it can."""

    async def scenario() -> None:
        # creation while the broker cannot be reached: accepted, nothing published
        settings, catalog = _runtime_parts(tmp_path, "amqp://guest:guest@127.0.0.1:1/",
                                           queue_name)
        down = JobRuntime(settings, catalog, Scheduler(settings),
                          LocalArtifactStore(tmp_path / "artifacts"))
        await asyncio.to_thread(upgrade_database, down.database_url)
        service = ProjectService(settings, catalog, down.repository, down.queue,
                                 LocalArtifactStore(tmp_path / "artifacts"))
        project = await service.create_from_text(
            "One sentence. Two sentences. Three.", markdown=False,
            spec=ProjectSpec(voice="fake-tone"))
        assert project.state is ProjectState.QUEUED
        await down.close()
        # an API server with the broker back: its sweeper publishes the project's task
        # (one task of its three consecutive segments)
        settings, catalog = _runtime_parts(tmp_path, AMQP_URL, queue_name)
        api = JobRuntime(settings, catalog, Scheduler(settings),
                         LocalArtifactStore(tmp_path / "artifacts"))
        await api.open()
        try:
            deadline = time.monotonic() + 20
            while await _count_if_declared(queue_name) < 1:
                assert time.monotonic() < deadline, "the outbox never published"
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.5)
            assert await _message_count(queue_name) == 1  # once, not once per sweep
            published = await asyncio.to_thread(api.repository.claim_unpublished)
            assert published == []
        finally:
            await api.close()

    asyncio.run(scenario())
