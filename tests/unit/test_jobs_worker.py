"""The segment worker: chapters are assembled as soon as their segments are done, the book is
built from them at the end, and nothing a project wrote outlives its deletion."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import pytest
from sqlalchemy import update

from tests.jobs_tools import new_project
from voxserve.engines.catalog import EngineCatalog
from voxserve.errors import EngineFailed
from voxserve.jobs.store.database import upgrade_database
from voxserve.jobs.store.models import Chapter, utcnow
from voxserve.jobs.store.records import ProjectRecord
from voxserve.jobs.store.repository import JobRepository
from voxserve.jobs.tasks.queue import InProcessQueue, SegmentTaskMessage
from voxserve.jobs.work.chapters import chapter_record_key, file_key
from voxserve.jobs.work.webhook import WebhookNotifier
from voxserve.jobs.work.worker import SegmentWorker
from voxserve.scheduler import Scheduler
from voxserve.service.projects import ProjectService
from voxserve.settings import Settings
from voxserve.storage import LocalArtifactStore

#: Segments per chapter of ``tests.jobs_tools.BOOK_MD``.
CHAPTER_SEGMENTS = [(0, 1, 2), (3, 4)]


@dataclass
class Rig:
    repository: JobRepository
    worker: SegmentWorker
    artifacts: LocalArtifactStore
    service: ProjectService
    root: Path

    async def project(self, project_id: str) -> ProjectRecord:
        project = await asyncio.to_thread(self.repository.get_project, project_id)
        assert project is not None
        return project

    def files_under(self, project_id: str) -> list[str]:
        folder = self.root / "projects" / project_id
        return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@asynccontextmanager
async def _rig(tmp_path: Path) -> AsyncIterator[Rig]:
    settings = Settings(data_dir=tmp_path, engines=["fake"], default_model="fake",
                        cache_url="none")
    await asyncio.to_thread(upgrade_database, settings.resolved_database_url)
    catalog = EngineCatalog(settings)
    await asyncio.to_thread(catalog.load)
    scheduler = Scheduler(settings)
    scheduler.start(catalog.replicas())
    repository = JobRepository(settings.resolved_database_url)
    artifacts = LocalArtifactStore(tmp_path / "artifacts")
    worker = SegmentWorker(repository, catalog, scheduler, artifacts, WebhookNotifier(),
                           max_attempts=3)
    service = ProjectService(settings, catalog, repository, InProcessQueue(), artifacts)
    try:
        yield Rig(repository, worker, artifacts, service, tmp_path / "artifacts")
    finally:
        await scheduler.stop()
        catalog.close()
        repository.close()


def _run(tmp_path: Path, body: Callable[[Rig], Awaitable[None]]) -> None:
    async def main() -> None:
        async with _rig(tmp_path) as rig:
            await body(rig)

    asyncio.run(main())


async def _handle(rig: Rig, project_id: str, indexes: tuple[int, ...]) -> None:
    for index in indexes:
        await rig.worker.handle(SegmentTaskMessage(project_id, index))


def test_a_chapter_is_assembled_once_its_last_segment_is_done(tmp_path: Path) -> None:
    async def body(rig: Rig) -> None:
        project = await asyncio.to_thread(rig.repository.create_project, new_project())
        await _handle(rig, project.id, CHAPTER_SEGMENTS[0][:2])
        assert not (await rig.project(project.id)).chapters[0].assembled
        await _handle(rig, project.id, CHAPTER_SEGMENTS[0][2:])
        running = await rig.project(project.id)
        assert [c.assembled for c in running.chapters] == [True, False]
        assert running.state.value == "running" and running.files is None
        # the chapter's files are stored before the project ends
        assert {"files/chapter-000.wav", "files/chapter-000.vtt", "files/chapter-000.srt",
                "chapters/0000.json"} <= set(rig.files_under(project.id))
        vtt = (rig.root / file_key(project.id, "files/chapter-000.vtt")).read_text()
        assert vtt.count("-->") == 3
        record = json.loads((rig.root / chapter_record_key(project.id, 0)).read_bytes())
        assert record["title"] == "The first chapter" and len(record["cues"]) == 3
        await _handle(rig, project.id, CHAPTER_SEGMENTS[1])
        done = await rig.project(project.id)
        assert done.state.value == "completed" and all(c.assembled for c in done.chapters)
        assert done.files is not None
        assert {"chapter-000.wav", "chapter-001.wav", "book.wav", "book.vtt", "manifest.json"} \
            <= set(done.files)
        # the book is chapter 0, the pause, chapter 1, as the chapter files hold them
        book = _wav_samples((rig.root / file_key(project.id, "files/book.wav")).read_bytes())
        first, second = (
            _wav_samples((rig.root / file_key(project.id, f"files/chapter-00{n}.wav"))
                         .read_bytes())
            for n in (0, 1)
        )
        manifest = json.loads((rig.root / file_key(project.id, "files/manifest.json"))
                              .read_bytes())
        second_start = round(manifest["chapters"][1]["start_s"] * 16000)
        np.testing.assert_array_equal(book[: first.size], first)
        np.testing.assert_array_equal(book[second_start : second_start + second.size], second)
        assert not book[first.size : second_start].any()

    _run(tmp_path, body)


def _synthesized(rig: Rig) -> list[str]:
    """Texts every fake engine replica synthesized, in order per replica."""
    return [text for engine in rig.worker.catalog.replicas()["fake"]
            for text in engine.segments_synthesized]  # type: ignore[attr-defined]


def test_a_task_of_several_segments_synthesizes_only_its_pending_ones(tmp_path: Path) -> None:
    async def body(rig: Rig) -> None:
        project = await asyncio.to_thread(rig.repository.create_project, new_project())
        await rig.worker.handle(SegmentTaskMessage(project.id, 0))
        # segments 0-2 (chapter 0), 0 already done: 1 and 2 are synthesized and recorded
        await rig.worker.handle(SegmentTaskMessage(project.id, 0, count=3))
        assert _synthesized(rig).count("One sentence here.") == 1
        segments = await asyncio.to_thread(rig.repository.segments, project.id)
        assert [s.attempts for s in segments] == [1, 1, 1, 0, 0]
        assert [s.state.value for s in segments] == ["done"] * 3 + ["pending"] * 2
        running = await rig.project(project.id)
        assert [c.assembled for c in running.chapters] == [True, False]
        await rig.worker.handle(SegmentTaskMessage(project.id, 3, count=2))
        assert (await rig.project(project.id)).state.value == "completed"
        assert sorted(_synthesized(rig)) == sorted(s.text for s in segments)

    _run(tmp_path, body)


def test_a_failing_segment_fails_its_task_and_records_nothing_of_it(tmp_path: Path) -> None:
    async def body(rig: Rig) -> None:
        project = await asyncio.to_thread(
            rig.repository.create_project, new_project(options={"fail_on": "Short"}))
        with pytest.raises(EngineFailed):
            await rig.worker.handle(SegmentTaskMessage(project.id, 3, count=2))
        segments = await asyncio.to_thread(rig.repository.segments, project.id)
        # neither segment is recorded (the task is retried whole; done ones are skipped then)
        assert [s.state.value for s in segments[3:]] == ["pending", "pending"]
        assert [s.attempts for s in segments[3:]] == [1, 1]
        # the last attempt fails the project, naming the task's segments
        with pytest.raises(EngineFailed):
            await rig.worker.handle(SegmentTaskMessage(project.id, 3, attempt=3, count=2))
        failed = await rig.project(project.id)
        assert failed.state.value == "failed"
        assert failed.error is not None and failed.error.startswith("segments 3-4 failed")

    _run(tmp_path, body)


def test_canceling_a_project_stops_its_task_in_flight(tmp_path: Path) -> None:
    async def body(rig: Rig) -> None:
        project = await asyncio.to_thread(
            rig.repository.create_project, new_project(options={"sleep_ms": 200}))
        handling = asyncio.create_task(
            rig.worker.handle(SegmentTaskMessage(project.id, 0, count=3)))
        await asyncio.sleep(0.1)  # the first segment is being synthesized
        await rig.service.cancel(project.id)
        rig.worker.cancel_project(project.id)
        await asyncio.wait_for(handling, timeout=5)  # ends without an error
        assert len(_synthesized(rig)) <= 1  # the queued segments never ran
        segments = await asyncio.to_thread(rig.repository.segments, project.id)
        assert all(s.state.value == "pending" for s in segments)  # nothing recorded
        assert (await rig.project(project.id)).state.value == "canceled"

    _run(tmp_path, body)


def test_the_finisher_assembles_a_chapter_whose_assembler_died(tmp_path: Path) -> None:
    async def body(rig: Rig) -> None:
        project = await asyncio.to_thread(rig.repository.create_project, new_project())
        await _handle(rig, project.id, CHAPTER_SEGMENTS[0])
        # as if the worker that claimed chapter 0 died before storing anything: a fresh
        # claim, no files, not assembled
        with rig.repository.engine.begin() as connection:
            connection.execute(
                update(Chapter).where(Chapter.project_id == project.id, Chapter.index == 0)
                .values(assembled_at=None, assembly_claimed_at=utcnow()))
        for name in rig.files_under(project.id):
            if not name.startswith("segments/"):
                (rig.root / "projects" / project.id / name).unlink()
        await _handle(rig, project.id, CHAPTER_SEGMENTS[1])
        done = await rig.project(project.id)
        assert done.state.value == "completed" and done.files is not None
        assert "chapter-000.wav" in done.files
        vtt = (rig.root / file_key(project.id, "files/chapter-000.vtt")).read_text()
        assert vtt.count("-->") == 3

    _run(tmp_path, body)


def test_deleting_a_project_mid_way_removes_its_assembled_chapters(tmp_path: Path) -> None:
    async def body(rig: Rig) -> None:
        project = await asyncio.to_thread(rig.repository.create_project, new_project())
        await _handle(rig, project.id, CHAPTER_SEGMENTS[0])
        assert "files/chapter-000.wav" in rig.files_under(project.id)
        assert (rig.root / chapter_record_key(project.id, 0)).exists()
        await rig.service.delete(project.id)
        assert rig.files_under(project.id) == []

    _run(tmp_path, body)


def _wav_samples(data: bytes) -> np.ndarray:
    with av.open(io.BytesIO(data)) as container:
        return np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(audio=0)])
