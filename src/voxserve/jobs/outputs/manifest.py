"""The manifest of a finished project: a JSON-able summary of its chapters and files."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from voxserve import __version__
from voxserve.jobs.outputs.assemble import ChapterAudio
from voxserve.jobs.outputs.book import BookAudio

#: Version of the manifest's layout; bumped when fields change meaning.
#: 2: chapters list their cues (the user's words and what was spoken); 3: cues list their
#: words' times (``words``: word, start_s, end_s, estimated; chapter time like the cue)
MANIFEST_VERSION = 3


def chapter_file_prefix(index: int) -> str:
    """Name prefix of chapter ``index``'s files (``chapter-003`` for 3): keys in the manifest's
    file map whose last path part starts with ``prefix + "."`` belong to that chapter."""
    return f"chapter-{index:03d}"


def build_manifest(
    *,
    project_id: str,
    title: str,
    chapters: Sequence[ChapterAudio],
    book: BookAudio | None,
    files: Mapping[str, str],
) -> dict[str, object]:
    """The manifest as a dict of JSON types.

    ``files`` maps file keys (e.g. ``chapter-001.mp3``, ``book.m4b``, ``book.vtt``) to where
    the file is (path or URL); each chapter lists the keys that belong to it (see
    :func:`chapter_file_prefix`). ``start_s`` of a chapter is its start in the book, or
    ``None`` without a book; the total duration is the book's, else the chapters' sum.
    """
    starts: Sequence[float | None] = (
        book.chapter_starts_s if book is not None else [None] * len(chapters)
    )
    if len(starts) != len(chapters):
        raise ValueError("the book has a different number of chapters")
    duration = book.duration_s if book is not None else sum(c.duration_s for c in chapters)
    return {
        "manifest_version": MANIFEST_VERSION,
        "generator": {"name": "voxserve", "version": __version__},
        "project_id": project_id,
        "title": title,
        "duration_s": round(duration, 3),
        "chapters": [
            {
                "index": chapter.index,
                "title": chapter.title,
                "duration_s": round(chapter.duration_s, 3),
                "start_s": None if start is None else round(start, 3),
                "segment_count": len(chapter.cues),
                "files": _chapter_files(chapter.index, files),
                "cues": [
                    {"start_s": round(cue.start_s, 3), "end_s": round(cue.end_s, 3),
                     "text": cue.text, "spoken": cue.spoken or cue.text,
                     "words": [word.as_dict() for word in cue.words]}
                    for cue in chapter.cues
                ],
            }
            for chapter, start in zip(chapters, starts, strict=True)
        ],
        "book": None
        if book is None
        else {"extension": book.extension, "content_type": book.content_type},
        "files": dict(files),
    }


def _chapter_files(index: int, files: Mapping[str, str]) -> list[str]:
    prefix = chapter_file_prefix(index) + "."
    return sorted(key for key in files if key.rsplit("/", 1)[-1].startswith(prefix))
