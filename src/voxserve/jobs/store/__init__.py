"""Job state in SQL: the ORM models, the database and its migrations, the repository."""
