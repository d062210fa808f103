"""Job state in SQL: projects, their chapters and segments (SQLite or PostgreSQL).

Sync SQLAlchemy; async code calls it through ``asyncio.to_thread``. Every method is one
short transaction and returns plain records, never ORM objects. Concurrency rests on
conditional updates: :meth:`JobRepository.finish_segments` and
:meth:`JobRepository.claim_finalization` are ``UPDATE … WHERE`` statements whose row count
says whether this call did it, so any number of workers in any number of processes agree.

:class:`JobRepository` is the one object callers use. Its methods come in two halves, both
held to this contract: :mod:`~voxserve.jobs.store.queries` creates, reads, lists and deletes
projects (the API's side); :mod:`~voxserve.jobs.store.updates` is the workers' side (the
task outbox, segments started and finished, chapter and finalization claims, final states).
The records they take and return are in :mod:`~voxserve.jobs.store.records`.
"""

from __future__ import annotations

from voxserve.jobs.store.queries import ProjectQueries
from voxserve.jobs.store.updates import WorkerUpdates


class JobRepository(ProjectQueries, WorkerUpdates):
    """Projects, chapters and segments in one database."""
