"""Engines for the job database (SQLite or PostgreSQL) and running its migrations."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url

_MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_upgrade_lock = threading.Lock()


def create_db_engine(url: str) -> Engine:
    """A pooled sync engine; SQLite gets WAL, a busy timeout and cross-thread connections."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _pragmas(connection: Any, _: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    return engine


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade_database(url: str) -> None:
    """Bring the database at ``url`` to the newest schema (idempotent; run at start-up)."""
    engine = create_db_engine(url)
    try:
        with _upgrade_lock, engine.begin() as connection:
            if connection.dialect.name == "postgresql":  # processes starting together
                connection.execute(text("SELECT pg_advisory_xact_lock(74837201)"))
            config = alembic_config(url)
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    finally:
        engine.dispose()
