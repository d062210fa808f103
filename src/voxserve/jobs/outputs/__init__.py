"""Output builders of document-conversion projects.

* :mod:`~voxserve.jobs.outputs.assemble`: segment audio -> one encoded chapter with cues.
* :mod:`~voxserve.jobs.outputs.book`: all chapters -> one book file with chapter markers.
* :mod:`~voxserve.jobs.outputs.cue_words`: segments' word times -> chapter and book time.
* :mod:`~voxserve.jobs.outputs.subtitles`: cues -> WebVTT and SRT (sentence or word level).
* :mod:`~voxserve.jobs.outputs.manifest`: the JSON manifest describing a finished project.
"""

from voxserve.jobs.outputs.assemble import ChapterAudio, Cue, SegmentAudio, assemble_chapter
from voxserve.jobs.outputs.book import BookAudio, build_book
from voxserve.jobs.outputs.cue_words import CueWord
from voxserve.jobs.outputs.manifest import build_manifest, chapter_file_prefix
from voxserve.jobs.outputs.subtitles import to_srt, to_webvtt, to_word_srt, to_word_webvtt

__all__ = [
    "BookAudio",
    "ChapterAudio",
    "Cue",
    "CueWord",
    "SegmentAudio",
    "assemble_chapter",
    "build_book",
    "build_manifest",
    "chapter_file_prefix",
    "to_srt",
    "to_webvtt",
    "to_word_srt",
    "to_word_webvtt",
]
