"""Projects belong to a stable principal id (issue 23, D8): the principal's id, the
migration that marks names stored before as legacy, and a list page with progress."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import text

from tests.jobs_tools import finish_all, new_project
from voxserve.jobs.store.database import alembic_config, create_db_engine, upgrade_database
from voxserve.jobs.store.repository import JobRepository
from voxserve.security.principal import ANONYMOUS, Principal


def test_owner_ids_are_the_key_id_or_the_token_subject() -> None:
    key = Principal(subject="alice", scopes=frozenset({"projects"}), key_id="abc123def456",
                    auth_method="api_key")
    same_name = Principal(subject="alice", scopes=frozenset({"projects"}),
                          key_id="0123456789ab", auth_method="api_key")
    token = Principal(subject="alice", scopes=frozenset(), key_id=None, auth_method="jwt")
    assert key.owner_id == "key:abc123def456" != same_name.owner_id
    assert token.owner_id == "jwt:alice"
    assert ANONYMOUS.owner_id is None
    long = Principal(subject="s" * 500, scopes=frozenset(), key_id=None, auth_method="jwt")
    assert long.owner_id is not None and len(long.owner_id) < 255
    assert long.owner_id.startswith("jwt:sha256:")


def _owners(url: str) -> dict[str, str | None]:
    engine = create_db_engine(url)
    try:
        with engine.connect() as connection:
            return dict(connection.execute(text("SELECT id, owner FROM projects")).all())
    finally:
        engine.dispose()


def test_migration_marks_names_as_legacy_and_back(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    config = alembic_config(url)
    command.upgrade(config, "0002")
    engine = create_db_engine(url)
    with engine.begin() as connection:
        for pid, owner in (("p1", "alice"), ("p2", None)):
            connection.execute(text(
                "INSERT INTO projects (id, owner, name, state, model, voice, audio_format, "
                "sample_rate_hz, speed, options, segment_count, created_at, updated_at) "
                "VALUES (:id, :owner, 'n', 'queued', 'fake', 'v', 'wav', 16000, 1.0, '{}', 0, "
                "'2026-01-01', '2026-01-01')"), {"id": pid, "owner": owner})
    engine.dispose()
    upgrade_database(url)
    assert _owners(url) == {"p1": "legacy:alice", "p2": None}
    upgrade_database(url)  # idempotent
    assert _owners(url)["p1"] == "legacy:alice"
    command.downgrade(alembic_config(url), "0002")
    assert _owners(url) == {"p1": "alice", "p2": None}


def test_progress_of_a_page_in_one_call(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    upgrade_database(url)
    repository = JobRepository(url)
    first = repository.create_project(new_project(owner="key:1"))
    second = repository.create_project(new_project(owner="key:1"))
    finish_all(repository, second.id)
    progress = repository.progress_many([first.id, second.id, "unknown"])
    assert [c.segments_done for c in progress[first.id].chapters] == [0, 0]
    assert progress[second.id].segments_done == progress[second.id].segments_total > 0
    assert progress["unknown"].chapters == ()
    assert progress[first.id] == repository.progress(first.id)
