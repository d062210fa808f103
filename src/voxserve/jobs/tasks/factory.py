"""The task queue a process uses, chosen by ``settings.queue_url``."""

from __future__ import annotations

from voxserve.errors import ConfigurationError
from voxserve.jobs.tasks.queue import InProcessQueue, TaskQueue
from voxserve.settings import Settings


def is_inprocess(settings: Settings) -> bool:
    return settings.queue_url.strip() == "inprocess"


def create_queue(settings: Settings, *, concurrency: int = 2) -> TaskQueue:
    """``inprocess`` or ``amqp://…`` (RabbitMQ) from ``settings.queue_url``."""
    url = settings.queue_url.strip()
    if url == "inprocess":
        return InProcessQueue(
            concurrency=concurrency,
            max_attempts=settings.task_max_attempts,
            retry_base_delay_ms=settings.task_retry_base_delay_ms,
        )
    if url.startswith(("amqp://", "amqps://")):
        # Imported here so that processes on the in-process queue never load aio-pika.
        from voxserve.jobs.tasks.rabbitmq import RabbitMQQueue

        return RabbitMQQueue(
            url,
            settings.queue_name,
            prefetch=settings.task_concurrency,
            max_attempts=settings.task_max_attempts,
            retry_base_delay_ms=settings.task_retry_base_delay_ms,
        )
    raise ConfigurationError(
        f"VOXSERVE_QUEUE_URL={url!r}: expected 'inprocess' or 'amqp://user:pass@host/'"
    )
