"""Word-level subtitles of a project, rendered on request from what assembly stored.

A chapter's cues, with their words in chapter time, are in its record
(:func:`~voxserve.jobs.work.chapters.stored_chapter_cues`); the book's are every chapter's,
moved to the chapter's start in the book as the book's own cues are
(:func:`~voxserve.jobs.outputs.book.shift_cues`, starts from the manifest). Records written
before cues kept their words give words estimated over each cue (marked ``estimated``), so
projects converted before word times existed still get word subtitles.
"""

from __future__ import annotations

import json
from typing import Literal

from voxserve.jobs.outputs import Cue, to_word_srt, to_word_webvtt
from voxserve.jobs.outputs.book import shift_cues
from voxserve.jobs.work.chapters import file_key, stored_chapter_cues
from voxserve.storage import ArtifactStore

SubtitleKind = Literal["vtt", "srt"]


def render_word_subtitles(cues: tuple[Cue, ...] | list[Cue], kind: SubtitleKind) -> bytes:
    return (to_word_webvtt(cues) if kind == "vtt" else to_word_srt(cues)).encode()


async def chapter_word_cues(artifacts: ArtifactStore, project_id: str, index: int) -> list[Cue]:
    return list(await stored_chapter_cues(artifacts, project_id, index))


async def book_word_cues(
    artifacts: ArtifactStore, project_id: str, manifest_path: str
) -> list[Cue]:
    """Every chapter's cues in book time (``manifest_path``: the manifest in the project's
    files map, which says where each chapter starts)."""
    manifest = json.loads(await artifacts.get(file_key(project_id, manifest_path)))
    cues: list[Cue] = []
    for chapter in manifest["chapters"]:
        start = float(chapter.get("start_s") or 0.0)
        cues += shift_cues(await stored_chapter_cues(artifacts, project_id,
                                                     int(chapter["index"])), start)
    return cues
