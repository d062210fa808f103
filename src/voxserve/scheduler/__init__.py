"""Scheduling segments onto engine replicas: priorities, admission, batching, cancellation."""

from voxserve.scheduler.engine_scheduler import EngineScheduler, Scheduler
from voxserve.scheduler.task import Priority, SegmentTask

__all__ = ["EngineScheduler", "Priority", "Scheduler", "SegmentTask"]
