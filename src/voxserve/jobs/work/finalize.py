"""Finishing a project: its book, book subtitles and manifest, then ``completed``.

Exactly one finisher runs this per project (:meth:`JobRepository.claim_finalization`).
Chapters were mostly assembled while the rest was synthesized
(:mod:`voxserve.jobs.work.chapters`); the finisher assembles any that are not, then copies them
into the book (no second encoding for mp3, aac and opus). Files are stored under
``projects/{id}/files/{name}``; the project's ``files`` map names to those relative paths
(``files/chapter-001.mp3`` …).
"""

from __future__ import annotations

import asyncio
import json
import logging
import tempfile
from pathlib import Path

from voxserve.jobs.outputs import ChapterAudio, build_book, build_manifest, to_srt, to_webvtt
from voxserve.jobs.store.records import ProjectRecord
from voxserve.jobs.store.repository import JobRepository
from voxserve.jobs.work.background import BackgroundPool
from voxserve.jobs.work.chapters import (
    TEXT_TYPES,
    OutputFile,
    assemble_stored_chapter,
    chapter_files,
    file_key,
    load_stored_chapter,
)
from voxserve.storage import ArtifactStore
from voxserve.types import AudioFormat

logger = logging.getLogger(__name__)


def book_files(
    project: ProjectRecord, chapters: list[ChapterAudio], directory: Path
) -> list[OutputFile]:
    """The book (written to a file in ``directory``), its subtitles and the manifest (run
    it in a thread)."""
    audio_format = AudioFormat(project.audio_format)
    title = project.title or project.name
    book = build_book(title, chapters, audio_format=audio_format, path=directory / "book")
    files = [
        OutputFile(f"book.{book.extension}", book.path, book.content_type),
        OutputFile("book.vtt", to_webvtt(book.cues).encode(), TEXT_TYPES["vtt"]),
        OutputFile("book.srt", to_srt(book.cues).encode(), TEXT_TYPES["srt"]),
    ]
    # the manifest names files relative to itself (as ``voxserve convert`` writes them)
    names = [file.name for chapter in chapters for file in chapter_files(chapter, audio_format)]
    names += [file.name for file in files] + ["manifest.json"]
    manifest = build_manifest(project_id=project.id, title=title, chapters=chapters, book=book,
                              files={name: name for name in names})
    files.append(OutputFile("manifest.json", json.dumps(manifest, indent=2).encode(),
                            TEXT_TYPES["json"]))
    return files


async def finalize_project(
    repository: JobRepository, artifacts: ArtifactStore, project_id: str,
    background: BackgroundPool,
) -> ProjectRecord | None:
    """Build and store the outputs and mark the project completed, if this caller claims it.

    Returns the completed project, or ``None`` when another finisher has it (or it is not
    finished, or it was canceled or deleted meanwhile).
    """
    if not await asyncio.to_thread(repository.claim_finalization, project_id):
        return None
    try:
        return await _finalize(repository, artifacts, project_id, background)
    except BaseException:
        await asyncio.shield(asyncio.to_thread(repository.release_finalization, project_id))
        raise


async def _finalize(
    repository: JobRepository, artifacts: ArtifactStore, project_id: str,
    background: BackgroundPool,
) -> ProjectRecord | None:
    project = await asyncio.to_thread(repository.get_project, project_id)
    if project is None:
        return None
    with tempfile.TemporaryDirectory(prefix="voxserve-book-") as name:
        directory = Path(name)
        chapters: list[ChapterAudio] = []
        for record in project.chapters:
            if not record.assembled:
                chapter = await assemble_stored_chapter(repository, artifacts, project,
                                                        record.index, background)
                if chapter is None:
                    continue
            # every chapter from its stored file: one chapter in memory at a time
            chapters.append(await load_stored_chapter(artifacts, project, record.index,
                                                      directory))
        files = await background.run(book_files, project, chapters, directory)
        for file in files:
            await artifacts.put(file_key(project_id, f"files/{file.name}"), file.data,
                                file.content_type)
    audio_format = AudioFormat(project.audio_format)
    names = [file.name for chapter in chapters for file in chapter_files(chapter, audio_format)]
    names += [file.name for file in files]
    if not await asyncio.to_thread(repository.complete, project_id,
                                   {name: f"files/{name}" for name in names}):
        return None
    logger.info("project completed", extra={"project_id": project_id})
    return await asyncio.to_thread(repository.get_project, project_id)
