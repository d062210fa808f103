"""All chapters -> one book file with chapter markers, without encoding the audio again.

The chapters are put one after the other with ``chapter_silence_ms`` of silence between
them. Each chapter was encoded once, as soon as its segments were done
(:func:`~voxserve.jobs.outputs.assemble.assemble_chapter`); the book reuses that work:

* ``mp3``, ``aac`` and ``opus``: the chapters' packets (and those of one encoded pause) are
  copied into the book's container as they are (a remux, no second encoding). Each piece
  keeps its encoder delay and its padding to whole codec frames (a few tens of ms, inside
  the pauses), so chapter starts are measured in the book's own packets: they are where
  each chapter's first packet plays, on the timeline of the decoded book.
* ``flac``, ``wav`` and ``pcm``: lossless, so the chapters are decoded back to samples
  (cheap) and the book is written from them; times are exact to the sample.

The book is written to a file as it is built, and chapters may be files too
(:attr:`ChapterAudio.data` as a ``Path``): a chapter at a time is decoded or copied, so
memory does not grow with the book (a ten-hour WAV book is 1.6 GB of samples).

Chapter markers by format:

* ``mp3``: ID3v2.4 tag with one ``CHAP`` frame per chapter (``TIT2`` sub-frame for the title,
  start/end in ms) and a top-level, ordered ``CTOC`` listing them, written by FFmpeg's mp3
  muxer from the container's chapter list; plus a Xing/LAME header.
* ``aac``: an M4B (MP4, brand ``M4B ``) with AAC audio; FFmpeg writes both a QuickTime chapter
  text track (Apple players) and a Nero ``chpl`` atom (most others), moov first.
* ``flac`` and ``opus`` (Ogg): Vorbis comments ``CHAPTER001=HH:MM:SS.mmm`` and
  ``CHAPTER001NAME=title`` (the Xiph chapter extension; FFmpeg and most players read them).
* ``wav`` and ``pcm``: no markers (``chapter_starts_s`` still says where chapters start).
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, cast

import av
import numpy as np
import numpy.typing as npt
from av.audio.stream import AudioStream
from av.packet import Packet

from voxserve.audio import (
    StreamResampler,
    content_type_for,
    content_type_for_extension,
    create_encoder,
    extension_for,
    pcm16,
    wav_header,
)
from voxserve.jobs.outputs.assemble import ChapterAudio, Cue
from voxserve.jobs.outputs.cue_words import shifted_words
from voxserve.types import AudioFormat, FloatSamples

_FRAME_SAMPLES = 8192
_FALLBACK_RATE_HZ = 48_000  # for codecs that cannot take the book's rate (Opus)
#: Formats whose chapters are copied packet by packet into the book.
REMUXED_FORMATS = frozenset({AudioFormat.MP3, AudioFormat.AAC, AudioFormat.OPUS})


@dataclass(frozen=True, slots=True)
class BookAudio:
    """The whole book as one file; times are on the decoded book's timeline, in seconds."""

    #: The book file (where :func:`build_book` was told to write it).
    path: Path
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
    muxer: str
    codec: str
    sample_format: str
    bit_rate: int | None
    options: Mapping[str, str]
    #: Chapters as Vorbis comments (else as the container's chapter list).
    vorbis_chapters: bool = False

    @property
    def content_type(self) -> str:
        return content_type_for_extension(self.extension)


_CONTAINERS: dict[AudioFormat, _Container] = {
    AudioFormat.MP3: _Container(
        "mp3", "mp3", "libmp3lame", "fltp", 64_000,
        {"id3v2_version": "4", "write_xing": "1"},
    ),
    AudioFormat.AAC: _Container(
        "m4b", "ipod", "aac", "fltp", 64_000,
        {"brand": "M4B ", "movflags": "+faststart"},
    ),
    AudioFormat.FLAC: _Container("flac", "flac", "flac", "s16", None, {}, True),
    AudioFormat.OPUS: _Container("opus", "ogg", "libopus", "flt", 32_000, {}, True),
}  # fmt: skip


def build_book(
    title: str,
    chapters: Sequence[ChapterAudio],
    *,
    audio_format: AudioFormat,
    path: Path,
    chapter_silence_ms: float = 1500.0,
) -> BookAudio:
    """Write one file of all ``chapters`` (in the given order, each encoded in
    ``audio_format``) with chapter markers to ``path``.

    Raises ``ValueError`` for no chapters, a negative pause, or chapters whose audio does
    not fit together (other rates or codec settings, or data that does not decode to the
    chapter's duration).
    """
    if not chapters:
        raise ValueError("a book needs at least one chapter")
    if chapter_silence_ms < 0:
        raise ValueError("chapter silence must not be negative")
    if audio_format in REMUXED_FORMATS:
        return _remuxed_book(title, chapters, audio_format, chapter_silence_ms, path)
    return _decoded_book(title, chapters, audio_format, chapter_silence_ms, path)


def _shifted_cues(chapters: Sequence[ChapterAudio], starts_s: Sequence[float]) -> tuple[Cue, ...]:
    return tuple(
        cue
        for chapter, start in zip(chapters, starts_s, strict=True)
        for cue in shift_cues(chapter.cues, start)
    )


def shift_cues(cues: Sequence[Cue], by_s: float) -> tuple[Cue, ...]:
    """A chapter's cues (and their words) moved to its start ``by_s`` in the book."""
    return tuple(
        Cue(cue.start_s + by_s, cue.end_s + by_s, cue.text, cue.segment_index, cue.spoken,
            shifted_words(cue.words, by_s))
        for cue in cues
    )


# --- lossless: decode the chapters, write the book from samples ------------------------------


def _decoded_book(
    title: str, chapters: Sequence[ChapterAudio], audio_format: AudioFormat,
    chapter_silence_ms: float, path: Path,
) -> BookAudio:
    rate = chapters[0].sample_rate_hz
    gap = round(chapter_silence_ms * rate / 1000)
    # a chapter's samples at the book's rate: its PCM timeline (decoding is checked against it)
    sizes = [round(chapter.duration_s * rate) for chapter in chapters]
    starts: list[int] = []
    position = 0
    for size in sizes:
        if starts:
            position += gap
        starts.append(position)
        position += size

    def blocks() -> Iterator[FloatSamples]:
        for number, (chapter, size) in enumerate(zip(chapters, sizes, strict=True)):
            if number:
                yield np.zeros(gap, np.float32)
            yield from _exactly(_decoded_blocks(chapter, audio_format, rate), size,
                                chapter.index)

    titles = [chapter.title for chapter in chapters]
    content_type, extension = _write_book(path, blocks(), position, rate, audio_format, title,
                                          starts, titles)
    starts_s = [start / rate for start in starts]
    return BookAudio(
        path=path,
        content_type=content_type,
        extension=extension,
        duration_s=position / rate,
        chapter_starts_s=tuple(starts_s),
        cues=_shifted_cues(chapters, starts_s),
    )


def _open(data: bytes | Path) -> av.container.InputContainer:
    """An encoded file, in memory or on disk, for reading."""
    return av.open(io.BytesIO(data) if isinstance(data, bytes) else str(data), mode="r")


def _pcm_blocks(data: bytes | Path, skip_bytes: int) -> Iterator[bytes]:
    """Raw 16-bit PCM after ``skip_bytes`` of header, in blocks of ``_FRAME_SAMPLES``."""
    block_bytes = 2 * _FRAME_SAMPLES
    if isinstance(data, bytes):
        for offset in range(skip_bytes, len(data), block_bytes):
            yield data[offset : offset + block_bytes]
        return
    with data.open("rb") as handle:
        handle.seek(skip_bytes)
        while block := handle.read(block_bytes):
            yield block


def _decoded_blocks(
    chapter: ChapterAudio, audio_format: AudioFormat, rate: int
) -> Iterator[FloatSamples]:
    """A PCM, WAV or FLAC chapter's samples as float32 blocks, at ``rate``."""
    if audio_format == AudioFormat.FLAC:
        with _open(chapter.data) as container:
            stream = container.streams.audio[0]
            frames = (_as_float(frame.to_ndarray()) for frame in container.decode(stream))
            yield from _at_rate(frames, stream.rate or chapter.sample_rate_hz, rate)
        return
    header_bytes = 44 if audio_format == AudioFormat.WAV else 0
    blocks = (_as_float(np.frombuffer(block[: len(block) // 2 * 2], "<i2"))
              for block in _pcm_blocks(chapter.data, header_bytes))
    yield from _at_rate(blocks, chapter.sample_rate_hz, rate)


def _at_rate(blocks: Iterator[FloatSamples], from_rate: int, to_rate: int
             ) -> Iterator[FloatSamples]:
    if from_rate == to_rate:
        yield from blocks
        return
    resampler = StreamResampler(from_rate, to_rate)
    for block in blocks:
        yield resampler.process(block)
    yield resampler.flush()


def _exactly(blocks: Iterator[FloatSamples], size: int, index: int) -> Iterator[FloatSamples]:
    """``blocks`` cut or padded to ``size`` samples; ``ValueError`` (once read to the end)
    if they were off by more than one sample (not the chapter's audio)."""
    produced = 0
    for block in blocks:
        kept = block[: max(0, size - produced)]
        produced += block.size
        if kept.size:
            yield kept
    if abs(produced - size) > 1:
        raise ValueError(f"chapter {index} does not decode to its duration")
    if produced < size:
        yield np.zeros(size - produced, np.float32)


def _as_float(array: npt.NDArray[Any]) -> FloatSamples:
    """Decoded samples as float32 in [-1, 1]; integers are divided by their largest value,
    the inverse of how the encoders scale (so lossless chapters come back sample-exact)."""
    flat = array.reshape(-1)
    scale = float(2 ** (8 * flat.dtype.itemsize - 1) - 1) if flat.dtype.kind in "iu" else 1.0
    result: FloatSamples = (flat / scale).astype(np.float32)
    return result


def _write_book(
    path: Path,
    blocks: Iterator[FloatSamples],
    total_samples: int,
    rate: int,
    audio_format: AudioFormat,
    title: str,
    starts: Sequence[int],
    titles: Sequence[str],
) -> tuple[str, str]:
    """Write the book's ``blocks`` (``total_samples`` in all) to ``path`` in
    ``audio_format``; its ``(content_type, extension)``."""
    if audio_format in (AudioFormat.PCM, AudioFormat.WAV):
        with path.open("wb") as out:
            if audio_format == AudioFormat.WAV:
                out.write(wav_header(rate, 2 * total_samples))
            for block in blocks:
                out.write(pcm16(block).tobytes())
        return content_type_for(audio_format), extension_for(audio_format)
    spec = _CONTAINERS[audio_format]
    chapters = list(zip(starts, [*starts[1:], total_samples], titles, strict=True))
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
        _set_chapters(out, spec, title, chapters, rate)
        time_base = Fraction(1, rate)
        offset = 0
        for block in blocks:
            for start in range(0, block.size, _FRAME_SAMPLES):
                chunk = block[start : start + _FRAME_SAMPLES]
                frame = av.AudioFrame.from_ndarray(
                    chunk.reshape(1, -1), format="flt", layout="mono"
                )
                frame.sample_rate = rate
                frame.time_base = time_base
                frame.pts = offset
                offset += chunk.size
                out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return spec.content_type, spec.extension


# --- lossy: copy the chapters' packets -----------------------------------------------------


def _remuxed_book(
    title: str, chapters: Sequence[ChapterAudio], audio_format: AudioFormat,
    chapter_silence_ms: float, path: Path,
) -> BookAudio:
    spec = _CONTAINERS[audio_format]
    rate = chapters[0].sample_rate_hz
    if any(chapter.sample_rate_hz != rate for chapter in chapters):
        raise ValueError("chapters at different sample rates cannot be joined without encoding")
    encoder = create_encoder(audio_format, rate)
    pause = encoder.encode(np.zeros(round(chapter_silence_ms * rate / 1000), np.float32))
    pause += encoder.finish()
    pieces: list[bytes | Path] = []
    for chapter in chapters:
        if pieces:
            pieces.append(pause)
        pieces.append(chapter.data)
    # pass 1: where each piece starts (packet durations, in the demuxer's time base)
    offsets: list[int] = []
    position = 0
    time_base: Fraction | None = None
    for data in pieces:
        offsets.append(position)
        for packet in _packets(data):
            if time_base is None:
                time_base = packet.time_base
            elif packet.time_base != time_base:
                raise ValueError("chapters were encoded with other settings")
            position += packet.duration or 0
    if time_base is None or position <= 0:
        raise ValueError("the chapters hold no audio")
    chapter_offsets = offsets[::2]
    starts_s = [float(offset * time_base) for offset in chapter_offsets]
    duration_s = float(position * time_base)
    # the container's chapter list is in samples of the (encoded) stream
    with _open(pieces[0]) as first:
        stream_rate = first.streams.audio[0].rate or rate
    marks = [round(start * stream_rate) for start in starts_s]
    spans = list(zip(marks, [*marks[1:], round(duration_s * stream_rate)],
                     [chapter.title for chapter in chapters], strict=True))
    with av.open(
        str(path), mode="w", format=spec.muxer, container_options=dict(spec.options)
    ) as out:
        with _open(pieces[0]) as first:
            stream = out.add_stream_from_template(first.streams.audio[0])
        _set_chapters(out, spec, title, spans, stream_rate)
        for data, offset in zip(pieces, offsets, strict=True):
            position = offset
            for packet in _packets(data):
                duration = packet.duration or 0
                packet.stream = stream
                packet.pts = packet.dts = position
                position += duration
                out.mux(packet)
    return BookAudio(
        path=path,
        content_type=spec.content_type,
        extension=spec.extension,
        duration_s=duration_s,
        chapter_starts_s=tuple(starts_s),
        cues=_shifted_cues(chapters, starts_s),
    )


def _packets(data: bytes | Path) -> Iterator[Packet[Any]]:
    """The audio packets of an encoded file, in order (flush packets left out)."""
    with _open(data) as container:
        stream = container.streams.audio[0]
        for packet in container.demux(stream):
            if packet.size and packet.dts is not None:
                yield packet


def _set_chapters(
    out: av.container.OutputContainer,
    spec: _Container,
    title: str,
    chapters: Sequence[tuple[int, int, str]],
    rate: int,
) -> None:
    """Title and chapter markers (``(start, end, title)`` in samples at ``rate``)."""
    out.metadata["title"] = title
    if spec.vorbis_chapters:
        out.metadata.update(vorbis_chapter_comments(chapters, rate))
        return
    time_base = Fraction(1, rate)
    out.set_chapters(
        [
            {"id": number, "start": start, "end": end, "time_base": time_base,
             "metadata": {"title": name}}
            for number, (start, end, name) in enumerate(chapters, start=1)
        ]
    )  # fmt: skip


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
