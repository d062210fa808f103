"""All chapters -> one book file with chapter markers.

The chapters' segments are joined again exactly as :func:`assemble_chapter` joins them (same
pauses and fades, so every chapter has the same samples as its own file), put one after the
other with ``chapter_silence_ms`` between them, and encoded once. Chapter markers by format:

* ``mp3``: ID3v2.4 tag with one ``CHAP`` frame per chapter (``TIT2`` sub-frame for the title,
  start/end in ms) and a top-level, ordered ``CTOC`` listing them, written by FFmpeg's mp3
  muxer from the container's chapter list; plus a Xing/LAME header (exact duration, gapless).
* ``aac``: an M4B (MP4, brand ``M4B ``) with AAC audio; FFmpeg writes both a QuickTime chapter
  text track (Apple players) and a Nero ``chpl`` atom (most others), moov first.
* ``flac`` and ``opus`` (Ogg): Vorbis comments ``CHAPTER001=HH:MM:SS.mmm`` and
  ``CHAPTER001NAME=title`` (the Xiph chapter extension; FFmpeg and most players read them).
* ``wav`` and ``pcm``: no markers (``chapter_starts_s`` still says where chapters start).
"""

from __future__ import annotations

import struct
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import cast

import av
import numpy as np
import numpy.typing as npt
from av.audio.stream import AudioStream

from voxserve.jobs.outputs.assemble import ChapterAudio, Cue, SegmentAudio, join_segments
from voxserve.types import AudioFormat, FloatSamples

_FRAME_SAMPLES = 8192
_FALLBACK_RATE_HZ = 48_000  # for codecs that cannot take the book's rate (Opus)


@dataclass(frozen=True, slots=True)
class BookAudio:
    """The whole book as one file; times are on the PCM timeline, in seconds."""

    data: bytes
    content_type: str
    #: File name extension without the dot (``m4b`` for AAC).
    extension: str
    duration_s: float
    chapter_starts_s: tuple[float, ...]
    #: Every chapter's cues, shifted to book time.
    cues: tuple[Cue, ...]


@dataclass(frozen=True, slots=True)
class _Container:
    extension: str
    content_type: str
    muxer: str
    codec: str
    sample_format: str
    bit_rate: int | None
    options: Mapping[str, str]
    #: Chapters as Vorbis comments (else as the container's chapter list).
    vorbis_chapters: bool = False


_CONTAINERS: dict[AudioFormat, _Container] = {
    AudioFormat.MP3: _Container(
        "mp3", "audio/mpeg", "mp3", "libmp3lame", "fltp", 64_000,
        {"id3v2_version": "4", "write_xing": "1"},
    ),
    AudioFormat.AAC: _Container(
        "m4b", "audio/mp4", "ipod", "aac", "fltp", 64_000,
        {"brand": "M4B ", "movflags": "+faststart"},
    ),
    AudioFormat.FLAC: _Container("flac", "audio/flac", "flac", "flac", "s16", None, {}, True),
    AudioFormat.OPUS: _Container("opus", "audio/ogg", "ogg", "libopus", "flt", 32_000, {}, True),
}  # fmt: skip


def build_book(
    title: str,
    chapters: Sequence[ChapterAudio],
    segments_by_chapter: Mapping[int, Sequence[SegmentAudio]],
    *,
    audio_format: AudioFormat,
    chapter_silence_ms: float = 1500.0,
    sentence_silence_ms: float = 200.0,
    paragraph_silence_ms: float = 600.0,
    fade_ms: float = 5.0,
) -> BookAudio:
    """One file of all ``chapters`` (in the given order) with chapter markers.

    ``segments_by_chapter`` maps each chapter's index to its segments, and the pause
    settings must be those the chapters were assembled with: a chapter whose joined length
    differs from its ``duration_s`` raises ``ValueError``. The book's rate is that of the
    first chapter's first segment.
    """
    if not chapters:
        raise ValueError("a book needs at least one chapter")
    if chapter_silence_ms < 0:
        raise ValueError("chapter silence must not be negative")
    rate = 0
    pieces: list[FloatSamples] = []
    starts: list[int] = []
    cues: list[Cue] = []
    position = 0
    for chapter in chapters:
        segments = segments_by_chapter.get(chapter.index)
        if not segments:
            raise ValueError(f"no segments for chapter {chapter.index}")
        joined = join_segments(
            segments,
            sample_rate_hz=rate or None,
            sentence_silence_ms=sentence_silence_ms,
            paragraph_silence_ms=paragraph_silence_ms,
            fade_ms=fade_ms,
        )
        rate = joined.sample_rate_hz
        if abs(joined.samples.size / rate - chapter.duration_s) > 0.05:
            raise ValueError(f"chapter {chapter.index} was assembled with other settings")
        if starts:
            gap = round(chapter_silence_ms * rate / 1000)
            pieces.append(np.zeros(gap, np.float32))
            position += gap
        starts.append(position)
        cues.extend(joined.cues(offset_samples=position))
        pieces.append(joined.samples)
        position += joined.samples.size
    samples = np.concatenate(pieces)
    titles = [chapter.title for chapter in chapters]
    data, content_type, extension = _encode_book(samples, rate, audio_format, title, starts, titles)
    return BookAudio(
        data=data,
        content_type=content_type,
        extension=extension,
        duration_s=samples.size / rate,
        chapter_starts_s=tuple(start / rate for start in starts),
        cues=tuple(cues),
    )


def _encode_book(
    samples: FloatSamples,
    rate: int,
    audio_format: AudioFormat,
    title: str,
    starts: Sequence[int],
    titles: Sequence[str],
) -> tuple[bytes, str, str]:
    """``(data, content_type, extension)`` of the book in ``audio_format``."""
    pcm: npt.NDArray[np.int16] = np.rint(np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2")
    if audio_format == AudioFormat.PCM:
        return pcm.tobytes(), "audio/pcm", "pcm"
    if audio_format == AudioFormat.WAV:
        return _wav_header(rate, pcm.nbytes) + pcm.tobytes(), "audio/wav", "wav"
    spec = _CONTAINERS[audio_format]
    ends = [*starts[1:], samples.size]
    with tempfile.TemporaryDirectory(prefix="voxserve-book-") as directory:
        path = Path(directory) / f"book.{spec.extension}"
        _mux(path, spec, samples, rate, title, list(zip(starts, ends, titles, strict=True)))
        data = path.read_bytes()
    return data, spec.content_type, spec.extension


def _mux(
    path: Path,
    spec: _Container,
    samples: FloatSamples,
    rate: int,
    title: str,
    chapters: list[tuple[int, int, str]],
) -> None:
    """Encode ``samples`` into ``path`` (a real file: the muxers seek back to finish headers)."""
    time_base = Fraction(1, rate)
    with av.open(
        str(path), mode="w", format=spec.muxer, container_options=dict(spec.options)
    ) as out:
        rates = av.Codec(spec.codec, "w").audio_rates
        codec_rate = rate if not rates or rate in rates else _FALLBACK_RATE_HZ
        stream = cast(AudioStream, out.add_stream(spec.codec, rate=codec_rate))
        stream.layout = "mono"
        stream.format = spec.sample_format
        if spec.bit_rate is not None:
            stream.bit_rate = spec.bit_rate
        out.metadata["title"] = title
        if spec.vorbis_chapters:
            out.metadata.update(vorbis_chapter_comments(chapters, rate))
        else:
            out.set_chapters(
                [
                    {"id": number, "start": start, "end": end, "time_base": time_base,
                     "metadata": {"title": name}}
                    for number, (start, end, name) in enumerate(chapters, start=1)
                ]
            )  # fmt: skip
        for offset in range(0, samples.size, _FRAME_SAMPLES):
            chunk = samples[offset : offset + _FRAME_SAMPLES]
            frame = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="flt", layout="mono")
            frame.sample_rate = rate
            frame.time_base = time_base
            frame.pts = offset
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))


def vorbis_chapter_comments(chapters: Sequence[tuple[int, int, str]], rate: int) -> dict[str, str]:
    """``CHAPTERnnn``/``CHAPTERnnnNAME`` comments (numbered from 001) for ``(start, end, title)``
    sample spans."""
    comments: dict[str, str] = {}
    for number, (start, _end, name) in enumerate(chapters, start=1):
        millis = round(start * 1000 / rate)
        hours, rest = divmod(millis, 3_600_000)
        minutes, rest = divmod(rest, 60_000)
        seconds, millis = divmod(rest, 1000)
        comments[f"CHAPTER{number:03d}"] = f"{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}"
        comments[f"CHAPTER{number:03d}NAME"] = name
    return comments


def _wav_header(rate: int, data_bytes: int) -> bytes:
    """44-byte RIFF/WAVE header of mono 16-bit PCM with the real sizes."""
    return struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF", 36 + data_bytes, b"WAVE",
        b"fmt ", 16, 1, 1, rate, rate * 2, 2, 16,
        b"data", data_bytes,
    )  # fmt: skip
