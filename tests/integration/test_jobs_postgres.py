"""The job repository against a real PostgreSQL, in a throw-away schema per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from tests.jobs_repository_cases import ALL_CASES
from voxserve.jobs.store.database import upgrade_database
from voxserve.jobs.store.repository import JobRepository

pytestmark = pytest.mark.integration

POSTGRES_URL = os.environ.get(
    "VOXSERVE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture
def repository() -> Iterator[JobRepository]:
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    schema = f"voxserve_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OperationalError as exc:
        admin.dispose()
        pytest.skip(f"PostgreSQL at {POSTGRES_URL} is not reachable: {exc.orig}")
    url = f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    try:
        upgrade_database(url)
        upgrade_database(url)
        repo = JobRepository(url)
        yield repo
        repo.close()
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda case: case.__name__)
def test_repository(case: Callable[[JobRepository], None], repository: JobRepository) -> None:
    case(repository)
