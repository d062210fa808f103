"""The job repository on SQLite (the same cases run on PostgreSQL in integration)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.jobs_repository_cases import ALL_CASES
from voxserve.jobs.store.database import upgrade_database
from voxserve.jobs.store.repository import JobRepository


@pytest.fixture
def repository(tmp_path: Path) -> Iterator[JobRepository]:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    upgrade_database(url)
    upgrade_database(url)  # idempotent
    repo = JobRepository(url)
    yield repo
    repo.close()


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda case: case.__name__)
def test_repository(case: Callable[[JobRepository], None], repository: JobRepository) -> None:
    case(repository)
