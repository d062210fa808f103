"""The segment task queue: tasks of a few consecutive segments to synthesize, at least once.

:class:`TaskQueue` is what the API publishes to and workers consume from. Handlers must be
idempotent (a task may be delivered again: after a crash, or published twice); a handler
that raises is retried with exponential backoff, up to ``task_max_attempts`` deliveries,
then dead-lettered. :class:`InProcessQueue` keeps tasks in memory (the database is the
durable record; the API server re-enqueues pending segments at start-up); RabbitMQ is in
:mod:`voxserve.jobs.tasks.rabbitmq`, and :func:`voxserve.jobs.tasks.factory.create_queue`
picks one from the settings.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from typing import Protocol

from voxserve.jobs.tasks.retry import retry_delay_s

logger = logging.getLogger(__name__)


#: The most segments one task may cover (a bound on what a message can ask for).
MAX_TASK_SEGMENTS = 64


@dataclass(frozen=True, slots=True)
class SegmentTaskMessage:
    """Synthesize segments ``index`` … ``index + count - 1`` of project ``project_id``;
    ``attempt`` counts deliveries. A task of several segments costs one message, one
    acknowledgement and two transactions instead of one each per segment."""

    project_id: str
    index: int
    attempt: int = 1
    count: int = 1

    def __post_init__(self) -> None:
        if self.index < 0 or not 1 <= self.count <= MAX_TASK_SEGMENTS:
            raise ValueError(f"bad segment range: index {self.index}, count {self.count}")

    @property
    def last_index(self) -> int:
        return self.index + self.count - 1

    def to_json(self) -> bytes:
        fields: dict[str, str | int] = {"project_id": self.project_id, "index": self.index}
        if self.count != 1:
            fields["count"] = self.count
        return json.dumps(fields).encode()

    @classmethod
    def from_json(cls, data: bytes, attempt: int = 1) -> SegmentTaskMessage:
        """Raises ``ValueError``/``KeyError``/``TypeError`` for a malformed message (a
        message without ``count``, as older versions wrote, is one segment)."""
        fields = json.loads(data)
        return cls(str(fields["project_id"]), int(fields["index"]), attempt,
                   int(fields.get("count", 1)))

    def retried(self) -> SegmentTaskMessage:
        return replace(self, attempt=self.attempt + 1)

    def describe(self) -> str:
        """``segment 4`` or ``segments 4-7`` (for logs and errors)."""
        if self.count == 1:
            return f"segment {self.index}"
        return f"segments {self.index}-{self.last_index}"


def segment_tasks(
    pending: Iterable[tuple[str, int, int]], segments_per_task: int
) -> list[SegmentTaskMessage]:
    """Tasks for pending segments ``(project id, index, chapter index)`` given in document
    order: runs of consecutive indices of one chapter, at most ``segments_per_task`` long."""
    tasks: list[SegmentTaskMessage] = []
    run: tuple[str, int, int, int] | None = None  # project, first index, count, chapter
    for project_id, index, chapter in pending:
        if (run is not None and run[0] == project_id and run[3] == chapter
                and run[1] + run[2] == index and run[2] < segments_per_task):
            run = (project_id, run[1], run[2] + 1, chapter)
            continue
        if run is not None:
            tasks.append(SegmentTaskMessage(run[0], run[1], count=run[2]))
        run = (project_id, index, 1, chapter)
    if run is not None:
        tasks.append(SegmentTaskMessage(run[0], run[1], count=run[2]))
    return tasks


TaskHandler = Callable[[SegmentTaskMessage], Awaitable[None]]


class TaskQueue(Protocol):
    async def publish(self, task: SegmentTaskMessage) -> None: ...

    async def publish_many(self, tasks: Iterable[SegmentTaskMessage]) -> None: ...

    async def consume(self, handler: TaskHandler) -> None:
        """Start handing tasks to ``handler`` (returns at once; :meth:`close` stops it)."""
        ...

    async def close(self) -> None: ...


class InProcessQueue:
    """An asyncio queue consumed by ``concurrency`` tasks of this process."""

    def __init__(
        self, *, concurrency: int = 2, max_attempts: int = 5, retry_base_delay_ms: float = 500.0
    ) -> None:
        self.concurrency = concurrency
        self.max_attempts = max_attempts
        self.retry_base_delay_ms = retry_base_delay_ms
        self._queue: asyncio.Queue[SegmentTaskMessage] = asyncio.Queue()
        self._consumers: list[asyncio.Task[None]] = []
        self._timers: set[asyncio.Task[None]] = set()
        #: Tasks that failed ``max_attempts`` times, with the last error (kept for inspection).
        self.dead: list[tuple[SegmentTaskMessage, str]] = []

    def __len__(self) -> int:
        return self._queue.qsize()

    async def publish(self, task: SegmentTaskMessage) -> None:
        self._queue.put_nowait(task)

    async def publish_many(self, tasks: Iterable[SegmentTaskMessage]) -> None:
        for task in tasks:
            self._queue.put_nowait(task)

    async def consume(self, handler: TaskHandler) -> None:
        self._consumers += [
            asyncio.create_task(self._consume(handler), name=f"segment-worker-{n}")
            for n in range(self.concurrency)
        ]

    async def _consume(self, handler: TaskHandler) -> None:
        while True:
            task = await self._queue.get()
            try:
                await handler(task)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._failed(task, exc)

    def _failed(self, task: SegmentTaskMessage, error: Exception) -> None:
        if task.attempt >= self.max_attempts:
            logger.error("task dead-lettered after %s attempts: %s", task.attempt, error,
                         extra={"project_id": task.project_id, "segment": task.index,
                                "segments": task.count})
            self.dead.append((task, str(error)))
            return
        delay_s = retry_delay_s(self.retry_base_delay_ms, task.attempt)
        logger.warning("task failed, retrying in %.1f s: %s", delay_s, error,
                       extra={"project_id": task.project_id, "segment": task.index,
                              "segments": task.count})
        timer = asyncio.create_task(self._later(task.retried(), delay_s))
        self._timers.add(timer)
        timer.add_done_callback(self._timers.discard)

    async def _later(self, task: SegmentTaskMessage, delay_s: float) -> None:
        await asyncio.sleep(delay_s)
        self._queue.put_nowait(task)

    async def close(self) -> None:
        tasks = [*self._consumers, *self._timers]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._consumers.clear()
