"""The job repository against a real PostgreSQL, in a throw-away schema per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest
from alembic import command
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from tests.jobs_repository_cases import ALL_CASES
from tests.jobs_tools import new_project
from voxserve.jobs.store.database import alembic_config, upgrade_database
from voxserve.jobs.store.records import SegmentResult
from voxserve.jobs.store.repository import JobRepository

pytestmark = pytest.mark.integration

POSTGRES_URL = os.environ.get(
    "VOXSERVE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture
def schema_url() -> Iterator[str]:
    """A URL to an empty, throw-away schema."""
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    schema = f"voxserve_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OperationalError as exc:
        admin.dispose()
        pytest.skip(f"PostgreSQL at {POSTGRES_URL} is not reachable: {exc.orig}")
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def test_segment_words_migration_keeps_earlier_rows(schema_url: str) -> None:
    """0005 adds ``segments.words`` to a database with rows: they read back as None (their
    word subtitles are estimated), new results keep their words; down again drops it."""
    command.upgrade(alembic_config(schema_url), "0004_segment_source_text")
    repository = JobRepository(schema_url)
    try:
        project = repository.create_project(new_project())
    finally:
        repository.close()
    upgrade_database(schema_url)
    repository = JobRepository(schema_url)
    try:
        assert all(segment.words is None for segment in repository.segments(project.id))
        repository.finish_segments(project.id, [SegmentResult(0, "k/0", 1.0, "[]")])
        assert repository.segments(project.id)[0].words == "[]"
    finally:
        repository.close()
    command.downgrade(alembic_config(schema_url), "0004_segment_source_text")
    engine = create_engine(schema_url)
    try:
        with engine.connect() as connection:
            columns = connection.execute(text(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = 'segments' AND table_schema = current_schema()")).scalars()
            names = set(columns)
        assert "source_text" in names and "words" not in names
    finally:
        engine.dispose()


@pytest.fixture
def repository(schema_url: str) -> Iterator[JobRepository]:
    upgrade_database(schema_url)
    upgrade_database(schema_url)  # idempotent
    repo = JobRepository(schema_url)
    yield repo
    repo.close()


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda case: case.__name__)
def test_repository(case: Callable[[JobRepository], None], repository: JobRepository) -> None:
    case(repository)
