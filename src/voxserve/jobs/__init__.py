"""Document-conversion projects: job state (SQL), the segment task queue, workers, outputs.

A project is a parsed document whose segments are synthesized one task each, at batch
priority, by workers in the API process (``queue_url=inprocess``) or in ``voxserve worker``
processes fed through RabbitMQ. State lives in SQLite or PostgreSQL, so progress is read from
the database by any process, and work resumes after a restart.
"""
