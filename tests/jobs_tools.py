"""Helpers shared by the job tests: small documents and repositories."""

from __future__ import annotations

from voxserve.jobs.store.records import NewProject
from voxserve.jobs.store.repository import JobRepository
from voxserve.text.documents import parse_text

BOOK_MD = """# A small book

## The first chapter

One sentence here. Another sentence follows.

A second paragraph.

## The second chapter

Short chapter text. It ends now.
"""


def new_project(text: str = BOOK_MD, **overrides: object) -> NewProject:
    fields: dict[str, object] = {
        "name": "book", "document": parse_text(text, markdown=True), "model": "fake",
        "voice": "fake-tone", "audio_format": "wav", "sample_rate_hz": 16000,
    }
    fields.update(overrides)
    return NewProject(**fields)  # type: ignore[arg-type]


def finish_all(repository: JobRepository, project_id: str) -> None:
    for segment in repository.segments(project_id):
        repository.record_segment(project_id, segment.index, f"k/{segment.index}", 1.0)
