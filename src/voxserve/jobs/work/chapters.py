"""One chapter of a project, assembled as soon as its segments are done.

The worker that records a chapter's last segment claims the chapter
(:meth:`JobRepository.claim_chapter`), joins and encodes its segments once, and stores the
chapter's audio and subtitles under ``projects/{id}/files/`` plus a small JSON record
(duration, rate, cues with their words' times) under ``projects/{id}/chapters/``. So
encoding overlaps synthesis instead of following it, and the project's finisher only has
to copy the chapters into the book (:mod:`voxserve.jobs.work.finalize`). Assembly is
idempotent: the same segments give the same bytes, so a chapter assembled twice (a stale
claim taken over) is harmless.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voxserve.audio import extension_for
from voxserve.jobs.outputs import (
    ChapterAudio,
    Cue,
    CueWord,
    SegmentAudio,
    assemble_chapter,
    chapter_file_prefix,
    to_srt,
    to_webvtt,
)
from voxserve.jobs.outputs.cue_words import estimated_words, words_from_dicts, words_from_json
from voxserve.jobs.store.records import ProjectRecord
from voxserve.jobs.store.repository import JobRepository
from voxserve.jobs.work.background import BackgroundPool
from voxserve.storage import ArtifactStore
from voxserve.types import AudioFormat

logger = logging.getLogger(__name__)

TEXT_TYPES = {
    "vtt": "text/vtt; charset=utf-8",
    "srt": "application/x-subrip; charset=utf-8",
    "json": "application/json",
}


def segment_key(project_id: str, index: int) -> str:
    return f"projects/{project_id}/segments/{index:06d}.pcm"


def file_key(project_id: str, relative_path: str) -> str:
    """Key of an output file; ``relative_path`` is as in the project's ``files`` map."""
    return f"projects/{project_id}/{relative_path}"


def chapter_record_key(project_id: str, index: int) -> str:
    return f"projects/{project_id}/chapters/{index:04d}.json"


def chapter_audio_name(index: int, audio_format: AudioFormat) -> str:
    return f"{chapter_file_prefix(index)}.{extension_for(audio_format)}"


@dataclass(frozen=True, slots=True)
class OutputFile:
    name: str
    #: The file's contents, or the local file holding them.
    data: bytes | Path
    content_type: str


def chapter_files(chapter: ChapterAudio, audio_format: AudioFormat) -> list[OutputFile]:
    """The chapter's audio file and its WebVTT and SRT subtitles."""
    prefix = chapter_file_prefix(chapter.index)
    return [
        OutputFile(chapter_audio_name(chapter.index, audio_format), chapter.data,
                   chapter.content_type),
        OutputFile(f"{prefix}.vtt", to_webvtt(chapter.cues).encode(), TEXT_TYPES["vtt"]),
        OutputFile(f"{prefix}.srt", to_srt(chapter.cues).encode(), TEXT_TYPES["srt"]),
    ]


def chapter_keys(project: ProjectRecord) -> list[str]:
    """Every key a project's chapters may have written (for deletion)."""
    audio_format = AudioFormat(project.audio_format)
    keys = []
    for chapter in project.chapters:
        prefix = chapter_file_prefix(chapter.index)
        names = (chapter_audio_name(chapter.index, audio_format), f"{prefix}.vtt",
                 f"{prefix}.srt")
        keys += [file_key(project.id, f"files/{name}") for name in names]
        keys.append(chapter_record_key(project.id, chapter.index))
    return keys


def _record_json(chapter: ChapterAudio) -> bytes:
    return json.dumps({
        "index": chapter.index, "title": chapter.title, "content_type": chapter.content_type,
        "duration_s": chapter.duration_s, "sample_rate_hz": chapter.sample_rate_hz,
        "cues": [[cue.start_s, cue.end_s, cue.text, cue.segment_index, cue.spoken,
                  [word.as_dict() for word in cue.words]]
                 for cue in chapter.cues],
    }).encode()


def _chapter_from_record(record: dict[str, Any], data: bytes | Path) -> ChapterAudio:
    return ChapterAudio(
        index=int(record["index"]), title=str(record["title"]), data=data,
        content_type=str(record["content_type"]), duration_s=float(record["duration_s"]),
        cues=cues_from_record(record),
        sample_rate_hz=int(record["sample_rate_hz"]),
    )


def cues_from_record(record: dict[str, Any]) -> tuple[Cue, ...]:
    """A chapter record's cues; records written before cues kept their words get words
    estimated over each cue (marked ``estimated``)."""
    cues = []
    for a, b, text, n, *rest in record["cues"]:
        start, end = float(a), float(b)
        words = _record_words(rest[1] if len(rest) > 1 else None)
        cues.append(Cue(start, end, str(text), int(n), str(rest[0]) if rest else "",
                        words if words is not None else estimated_words(str(text), start, end)))
    return tuple(cues)


def _record_words(raw: Any) -> tuple[CueWord, ...] | None:
    try:
        return words_from_dicts(raw) if isinstance(raw, list) else None
    except (ValueError, TypeError, KeyError):
        return None


async def stored_chapter_cues(
    artifacts: ArtifactStore, project_id: str, index: int
) -> tuple[Cue, ...]:
    """The cues (with words) of an assembled chapter, from its stored record."""
    return cues_from_record(json.loads(await artifacts.get(chapter_record_key(project_id, index))))


async def assemble_stored_chapter(
    repository: JobRepository, artifacts: ArtifactStore, project: ProjectRecord, index: int,
    background: BackgroundPool,
) -> ChapterAudio | None:
    """Join and encode chapter ``index`` from its stored segments, store its files and
    record, and mark it assembled. ``None`` if the chapter has no segments."""
    records = await asyncio.to_thread(repository.segments, project.id, index)
    if not records:
        return None
    segments = []
    for record in records:
        if record.audio_key is None:
            raise RuntimeError(f"segment {record.index} of chapter {index} is not done")
        segments.append(SegmentAudio(
            chapter_index=index, paragraph_index=record.paragraph_index,
            segment_index=record.index, text=record.shown_text,
            spoken=record.text if record.text != record.shown_text else "",
            pcm_s16le=await artifacts.get(record.audio_key),
            sample_rate_hz=project.sample_rate_hz, words=words_from_json(record.words),
        ))
    titles = {chapter.index: chapter.title for chapter in project.chapters}
    audio_format = AudioFormat(project.audio_format)
    chapter = await background.run(
        assemble_chapter, index, titles.get(index, f"Chapter {index + 1}"), segments,
        audio_format=audio_format,
    )
    for file in chapter_files(chapter, audio_format):
        await artifacts.put(file_key(project.id, f"files/{file.name}"), file.data,
                            file.content_type)
    await artifacts.put(chapter_record_key(project.id, index), _record_json(chapter),
                        TEXT_TYPES["json"])
    await asyncio.to_thread(repository.chapter_assembled, project.id, index)
    logger.info("chapter assembled", extra={"project_id": project.id, "chapter": index})
    return chapter


async def load_stored_chapter(
    artifacts: ArtifactStore, project: ProjectRecord, index: int, directory: Path
) -> ChapterAudio:
    """An assembled chapter back from storage: its record, and its encoded audio copied to
    a file in ``directory`` (so a book's chapters need not all be in memory)."""
    record = json.loads(await artifacts.get(chapter_record_key(project.id, index)))
    audio_name = chapter_audio_name(index, AudioFormat(project.audio_format))
    path = directory / audio_name
    data = await artifacts.get(file_key(project.id, f"files/{audio_name}"))
    await asyncio.to_thread(path.write_bytes, data)
    return _chapter_from_record(record, path)


async def assemble_if_complete(
    repository: JobRepository, artifacts: ArtifactStore, project: ProjectRecord, index: int,
    background: BackgroundPool,
) -> None:
    """Assemble chapter ``index`` if its segments are all done and no one else does
    (``project`` may come without its chapters: they are read again once claimed)."""
    if not await asyncio.to_thread(repository.claim_chapter, project.id, index):
        return
    try:
        full = await asyncio.to_thread(repository.get_project, project.id)
        if full is not None:
            await assemble_stored_chapter(repository, artifacts, full, index, background)
    except BaseException:
        await asyncio.shield(asyncio.to_thread(repository.release_chapter, project.id, index))
        raise
