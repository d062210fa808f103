"""The one table of output formats: what each is called on the wire and on disk.

Every place that needs a format's MIME type or file extension (streamed responses, stored
speech, chapter and book files, downloads) reads it here; the codec settings that produce a
format live with its encoder (:mod:`voxserve.audio.encode`) and its book container
(:mod:`voxserve.jobs.outputs.book`).
"""

from __future__ import annotations

from dataclasses import dataclass

from voxserve.types import AudioFormat


@dataclass(frozen=True, slots=True)
class FormatSpec:
    """How one :class:`AudioFormat` stream is labelled."""

    #: MIME type of the stream (HTTP ``Content-Type``).
    content_type: str
    #: File extension (no dot) of a file holding exactly that stream.
    extension: str


FORMATS: dict[AudioFormat, FormatSpec] = {
    AudioFormat.PCM: FormatSpec("audio/pcm", "pcm"),
    AudioFormat.WAV: FormatSpec("audio/wav", "wav"),
    AudioFormat.MP3: FormatSpec("audio/mpeg", "mp3"),
    AudioFormat.OPUS: FormatSpec("audio/ogg", "ogg"),
    AudioFormat.FLAC: FormatSpec("audio/flac", "flac"),
    # ADTS: raw AAC frames with a header each (streamable), not an MP4 (.m4a) file.
    AudioFormat.AAC: FormatSpec("audio/aac", "aac"),
}

#: Files the service writes besides plain streams: books in a chapter-aware container, and
#: the text outputs of a project.
_OTHER_FILE_TYPES: dict[str, str] = {
    "opus": "audio/ogg",
    "m4a": "audio/mp4",
    "m4b": "audio/mp4",
    "vtt": "text/vtt; charset=utf-8",
    "srt": "application/x-subrip; charset=utf-8",
    "json": "application/json",
}

#: File extension -> MIME type, for every file voxserve stores or serves.
FILE_TYPES: dict[str, str] = {
    **{spec.extension: spec.content_type for spec in FORMATS.values()},
    **_OTHER_FILE_TYPES,
}


def content_type_for(audio_format: AudioFormat) -> str:
    """MIME type of an ``audio_format`` stream as served over HTTP."""
    return FORMATS[audio_format].content_type


def extension_for(audio_format: AudioFormat) -> str:
    """File extension (no dot) for a file holding an ``audio_format`` stream."""
    return FORMATS[audio_format].extension


def content_type_for_extension(extension: str) -> str:
    """MIME type of files with ``extension`` (no dot; ``application/octet-stream`` if
    unknown)."""
    return FILE_TYPES.get(extension.lower(), "application/octet-stream")


def content_type_for_file(name: str) -> str:
    """MIME type of a stored file, by its name's extension."""
    return content_type_for_extension(name.rsplit(".", 1)[-1] if "." in name else "")
