"""Document-conversion projects: job state (SQL), the segment task queue, workers, outputs.

A project is a parsed document whose segments are synthesized one task each, at batch
priority, by workers in the API process (``queue_url=inprocess``) or in ``voxserve worker``
processes fed through RabbitMQ. State lives in SQLite or PostgreSQL, so progress is read from
the database by any process, and work resumes after a restart.

By role: :mod:`.store` (tables, migrations, the repository), :mod:`.tasks` (task messages,
the queues, the outbox), :mod:`.work` (what a worker does with a task), :mod:`.outputs`
(chapter and book files, subtitles, manifest); :mod:`.runtime` wires them in one process.
The project use case is :mod:`voxserve.service.projects`.
"""
