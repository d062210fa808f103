"""Scheduling segments onto engine replicas: priorities, admission, batching, cancellation."""

from voxserve.scheduler.engine_scheduler import EngineScheduler, QueueReservation, Scheduler
from voxserve.scheduler.task import Priority, SegmentTask

__all__ = ["EngineScheduler", "Priority", "QueueReservation", "Scheduler", "SegmentTask"]
