"""Building a finished project's outputs: chapters, the book, subtitles, the manifest.

Exactly one finisher runs this per project (:meth:`JobRepository.claim_finalization`).
Files are stored under ``projects/{id}/files/{name}``; the project's ``files`` map
names to those relative paths (``files/chapter-001.mp3`` …).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict
from dataclasses import dataclass

from voxserve.jobs.outputs import (
    ChapterAudio,
    SegmentAudio,
    assemble_chapter,
    build_book,
    build_manifest,
    chapter_file_prefix,
    to_srt,
    to_webvtt,
)
from voxserve.jobs.repository import JobRepository, ProjectRecord, SegmentRecord
from voxserve.storage import ArtifactStore
from voxserve.types import AudioFormat

logger = logging.getLogger(__name__)

_EXTENSIONS = {AudioFormat.OPUS: "ogg"}
_TEXT_TYPES = {
    "vtt": "text/vtt; charset=utf-8",
    "srt": "application/x-subrip; charset=utf-8",
    "json": "application/json",
}


def segment_key(project_id: str, index: int) -> str:
    return f"projects/{project_id}/segments/{index:06d}.pcm"


def file_key(project_id: str, relative_path: str) -> str:
    return f"projects/{project_id}/{relative_path}"


def chapter_audio_name(index: int, audio_format: AudioFormat) -> str:
    return f"{chapter_file_prefix(index)}.{_EXTENSIONS.get(audio_format, audio_format.value)}"


@dataclass(frozen=True, slots=True)
class OutputFile:
    name: str
    data: bytes
    content_type: str


def build_outputs(
    project: ProjectRecord, segments: list[tuple[SegmentRecord, bytes]]
) -> list[OutputFile]:
    """Every output file of a project (CPU-heavy: run it in a thread)."""
    audio_format = AudioFormat(project.audio_format)
    by_chapter: dict[int, list[SegmentAudio]] = defaultdict(list)
    for segment, pcm in segments:
        by_chapter[segment.chapter_index].append(SegmentAudio(
            chapter_index=segment.chapter_index, paragraph_index=segment.paragraph_index,
            segment_index=segment.index, text=segment.text, pcm_s16le=pcm,
            sample_rate_hz=project.sample_rate_hz,
        ))
    titles = {chapter.index: chapter.title for chapter in project.chapters}
    chapters: list[ChapterAudio] = [
        assemble_chapter(index, titles.get(index, f"Chapter {index + 1}"), by_chapter[index],
                         audio_format=audio_format)
        for index in sorted(by_chapter)
    ]
    title = project.title or project.name
    book = build_book(title, chapters, by_chapter, audio_format=audio_format)
    files: list[OutputFile] = []
    for chapter in chapters:
        prefix = chapter_file_prefix(chapter.index)
        files += [
            OutputFile(chapter_audio_name(chapter.index, audio_format), chapter.data,
                       chapter.content_type),
            OutputFile(f"{prefix}.vtt", to_webvtt(chapter.cues).encode(), _TEXT_TYPES["vtt"]),
            OutputFile(f"{prefix}.srt", to_srt(chapter.cues).encode(), _TEXT_TYPES["srt"]),
        ]
    files += [
        OutputFile(f"book.{book.extension}", book.data, book.content_type),
        OutputFile("book.vtt", to_webvtt(book.cues).encode(), _TEXT_TYPES["vtt"]),
        OutputFile("book.srt", to_srt(book.cues).encode(), _TEXT_TYPES["srt"]),
    ]
    # the manifest names files relative to itself (as ``voxserve convert`` writes them)
    mapping = {file.name: file.name for file in files}
    mapping["manifest.json"] = "manifest.json"
    manifest = build_manifest(project_id=project.id, title=title, chapters=chapters, book=book,
                              files=mapping)
    files.append(OutputFile("manifest.json", json.dumps(manifest, indent=2).encode(),
                            _TEXT_TYPES["json"]))
    return files


async def finalize_project(
    repository: JobRepository, artifacts: ArtifactStore, project_id: str
) -> ProjectRecord | None:
    """Build and store the outputs and mark the project completed, if this caller claims it.

    Returns the completed project, or ``None`` when another finisher has it (or it is not
    finished, or it was canceled or deleted meanwhile).
    """
    if not await asyncio.to_thread(repository.claim_finalization, project_id):
        return None
    try:
        return await _finalize(repository, artifacts, project_id)
    except BaseException:
        await asyncio.shield(asyncio.to_thread(repository.release_finalization, project_id))
        raise


async def _finalize(
    repository: JobRepository, artifacts: ArtifactStore, project_id: str
) -> ProjectRecord | None:
    project = await asyncio.to_thread(repository.get_project, project_id)
    if project is None:
        return None
    records = await asyncio.to_thread(repository.segments, project_id)
    segments = []
    for record in records:
        assert record.audio_key is not None
        segments.append((record, await artifacts.get(record.audio_key)))
    files = await asyncio.to_thread(build_outputs, project, segments)
    for file in files:
        await artifacts.put(file_key(project_id, f"files/{file.name}"), file.data,
                            file.content_type)
    mapping = {file.name: f"files/{file.name}" for file in files}
    if not await asyncio.to_thread(repository.complete, project_id, mapping):
        return None
    logger.info("project completed", extra={"project_id": project_id})
    return await asyncio.to_thread(repository.get_project, project_id)
