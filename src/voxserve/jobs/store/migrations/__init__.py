"""Alembic migrations of the job database (shipped in the package; run by ``upgrade_database``)."""
