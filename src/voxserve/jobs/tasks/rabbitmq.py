"""The segment task queue on RabbitMQ (aio-pika).

Three durable queues: ``<name>`` (tasks, persistent messages), ``<name>.retry`` (no
consumers: a failed task waits there for its per-message TTL, then is dead-lettered back to
``<name>``) and ``<name>.dead`` (tasks that failed ``max_attempts`` times, with the last
error in a header). A task is acknowledged only after its handler returned (its result is
stored) or after it was moved to the retry or dead queue, so a worker that dies mid-task
loses nothing: RabbitMQ delivers its unacknowledged tasks to another worker.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

import aio_pika
from aio_pika.abc import (
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustChannel,
    AbstractRobustConnection,
)

from voxserve.jobs.tasks.queue import SegmentTaskMessage, TaskHandler
from voxserve.jobs.tasks.retry import retry_delay_s

logger = logging.getLogger(__name__)

ATTEMPT_HEADER = "x-voxserve-attempt"
ERROR_HEADER = "x-voxserve-error"


class RabbitMQQueue:
    def __init__(
        self,
        url: str,
        name: str,
        *,
        prefetch: int = 4,
        max_attempts: int = 5,
        retry_base_delay_ms: float = 500.0,
    ) -> None:
        self.url = url
        self.name = name
        self.prefetch = prefetch
        self.max_attempts = max_attempts
        self.retry_base_delay_ms = retry_base_delay_ms
        self._connection: AbstractRobustConnection | None = None
        self._channel: AbstractRobustChannel | None = None
        self._queue: AbstractQueue | None = None
        self._consumer_tag: str | None = None
        self._lock = asyncio.Lock()
        self._handling: set[asyncio.Task[Any]] = set()

    async def _ready(self) -> AbstractRobustChannel:
        async with self._lock:
            if self._channel is None:
                self._connection = await aio_pika.connect_robust(self.url)
                channel = await self._connection.channel(publisher_confirms=True)
                await channel.set_qos(prefetch_count=self.prefetch)
                self._queue = await channel.declare_queue(self.name, durable=True)
                await channel.declare_queue(
                    f"{self.name}.retry", durable=True,
                    arguments={"x-dead-letter-exchange": "",
                               "x-dead-letter-routing-key": self.name},
                )
                await channel.declare_queue(f"{self.name}.dead", durable=True)
                self._channel = channel
            return self._channel

    async def _send(
        self, routing_key: str, task: SegmentTaskMessage, *, expiration_s: float | None = None,
        error: str | None = None,
    ) -> None:
        channel = await self._ready()
        headers: dict[str, Any] = {ATTEMPT_HEADER: task.attempt}
        if error is not None:
            headers[ERROR_HEADER] = error[:1000]
        message = aio_pika.Message(
            task.to_json(), content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT, headers=headers,
            expiration=expiration_s,
        )
        await channel.default_exchange.publish(message, routing_key=routing_key)

    async def publish(self, task: SegmentTaskMessage) -> None:
        await self._send(self.name, task)

    async def publish_many(self, tasks: Iterable[SegmentTaskMessage]) -> None:
        for task in tasks:
            await self._send(self.name, task)

    async def consume(self, handler: TaskHandler) -> None:
        await self._ready()
        assert self._queue is not None

        async def on_message(message: AbstractIncomingMessage) -> None:
            await self._deliver(handler, message)

        self._consumer_tag = await self._queue.consume(on_message, no_ack=False)

    async def _deliver(self, handler: TaskHandler, message: AbstractIncomingMessage) -> None:
        raw_attempt = (message.headers or {}).get(ATTEMPT_HEADER, 1)
        attempt = raw_attempt if isinstance(raw_attempt, int) and raw_attempt > 0 else 1
        try:
            task = SegmentTaskMessage.from_json(message.body, attempt)
        except (ValueError, KeyError, TypeError) as exc:
            logger.error("malformed task dead-lettered: %s", exc)
            await self._channel_publish_raw_dead(message, str(exc))
            await message.ack()
            return
        try:
            await handler(task)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            error = getattr(exc, "message", None) or str(exc) or type(exc).__name__
            if task.attempt >= self.max_attempts:
                logger.error("task dead-lettered after %s attempts: %s", task.attempt, error,
                             extra={"project_id": task.project_id, "segment": task.index,
                                    "segments": task.count})
                await self._send(f"{self.name}.dead", task, error=error)
            else:
                delay_s = retry_delay_s(self.retry_base_delay_ms, task.attempt)
                logger.warning("task failed, retrying in %.1f s: %s", delay_s, error,
                               extra={"project_id": task.project_id, "segment": task.index,
                                      "segments": task.count})
                await self._send(f"{self.name}.retry", task.retried(),
                                 expiration_s=max(delay_s, 0.001), error=error)
        await message.ack()

    async def _channel_publish_raw_dead(self, message: AbstractIncomingMessage, error: str) -> None:
        channel = await self._ready()
        await channel.default_exchange.publish(
            aio_pika.Message(message.body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                             headers={ERROR_HEADER: error[:1000]}),
            routing_key=f"{self.name}.dead",
        )

    async def close(self) -> None:
        if self._queue is not None and self._consumer_tag is not None:
            try:
                await self._queue.cancel(self._consumer_tag)
            except Exception:  # the connection may already be gone
                logger.debug("cancel consumer failed", exc_info=True)
        if self._connection is not None:
            await self._connection.close()
        self._connection = self._channel = self._queue = None
