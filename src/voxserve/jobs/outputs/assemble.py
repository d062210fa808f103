"""Segment audio -> one encoded chapter file plus one subtitle cue per segment.

Segments are joined in ``segment_index`` order. Each segment is trimmed of leading and
trailing near-silence and faded in and out by :class:`voxserve.audio.SegmentJoiner` (so the
pauses are even and the joins click-free), and the pause in front of it is
``sentence_silence_ms`` within a paragraph and ``paragraph_silence_ms`` at a paragraph change.
A cue spans exactly the samples of its segment's (trimmed) audio, so subtitles start and end
where the segment's audio does. Each cue also carries its words' times in chapter time
(:mod:`voxserve.jobs.outputs.cue_words`): the segment's own, moved with its audio, or
estimated over the cue when it has none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voxserve.audio import SegmentJoiner, StreamResampler, create_encoder, pcm16_samples
from voxserve.jobs.outputs.cue_words import CueWord, estimated_words, placed_words
from voxserve.types import AudioFormat, FloatSamples


@dataclass(frozen=True, slots=True)
class SegmentAudio:
    """The synthesized audio of one segment (sentence or sentence piece) of a project."""

    chapter_index: int
    paragraph_index: int
    #: Global order within the project.
    segment_index: int
    #: The user's words the segment says, for subtitles.
    text: str
    #: Mono 16-bit little-endian PCM.
    pcm_s16le: bytes
    sample_rate_hz: int
    #: What the engine read (the normalized text); "" when it is ``text``.
    spoken: str = ""
    #: Its words' times in its own PCM (seconds); None: not aligned (estimated over the cue).
    words: tuple[CueWord, ...] | None = None


@dataclass(frozen=True, slots=True)
class Cue:
    """One subtitle cue: the time span of one segment's audio."""

    start_s: float
    end_s: float
    #: the user's words (subtitles show these)
    text: str
    segment_index: int
    #: what the engine read (normalized); "" when it is ``text``
    spoken: str = ""
    #: its words, in the same time as the cue
    words: tuple[CueWord, ...] = ()


@dataclass(frozen=True, slots=True)
class ChapterAudio:
    """One encoded chapter.

    ``duration_s`` is the length of the PCM timeline (samples / rate). MP3 and AAC files
    decode a little longer (encoder delay and padding to whole codec frames, a few tens of
    milliseconds); cue times refer to the PCM timeline, relative to the chapter start.
    """

    index: int
    title: str
    #: The encoded chapter, in memory or in a local file.
    data: bytes | Path
    content_type: str
    duration_s: float
    cues: tuple[Cue, ...]
    #: Rate of the joined PCM the chapter was encoded from.
    sample_rate_hz: int


def assemble_chapter(
    index: int,
    title: str,
    segments: Sequence[SegmentAudio],
    *,
    audio_format: AudioFormat,
    sentence_silence_ms: float = 200.0,
    paragraph_silence_ms: float = 600.0,
    fade_ms: float = 5.0,
) -> ChapterAudio:
    """Join ``segments`` (all of chapter ``index``) in ``segment_index`` order (see the
    module doc), encode them once, and cue every segment.

    Each segment is encoded as soon as it is joined, so the chapter's samples are never all
    in memory at once. The chapter's rate is that of its first segment; segments at other
    rates are resampled. A segment that is empty or silent throughout adds no audio and gets
    no cue. Raises ``ValueError`` for no segments or a segment of another chapter.
    """
    if any(segment.chapter_index != index for segment in segments):
        raise ValueError(f"every segment must belong to chapter {index}")
    if not segments:
        raise ValueError("a chapter needs at least one segment")
    if min(sentence_silence_ms, paragraph_silence_ms) < 0:
        raise ValueError("silences must not be negative")
    ordered = sorted(segments, key=lambda segment: segment.segment_index)
    rate = ordered[0].sample_rate_hz
    # Silence 0: the joiner only trims and fades; the pauses are put in here.
    joiner = SegmentJoiner(rate, silence_between_ms=0.0, fade_ms=fade_ms)
    sentence_gap = round(sentence_silence_ms * rate / 1000)
    paragraph_gap = round(paragraph_silence_ms * rate / 1000)
    encoder = create_encoder(audio_format, rate)
    encoded: list[bytes] = []
    cues: list[Cue] = []
    position = 0
    last_paragraph: tuple[int, int] | None = None
    for segment in ordered:
        audio = joiner.add(_samples_at(segment, rate))
        if audio.size == 0:
            continue
        paragraph = (segment.chapter_index, segment.paragraph_index)
        if last_paragraph is not None:
            gap = sentence_gap if paragraph == last_paragraph else paragraph_gap
            encoded.append(encoder.encode(np.zeros(gap, np.float32)))
            position += gap
        cues.append(Cue(position / rate, (position + audio.size) / rate, segment.text,
                        segment.segment_index, segment.spoken,
                        _words(segment, joiner, position, audio.size, rate)))
        encoded.append(encoder.encode(audio))
        position += audio.size
        last_paragraph = paragraph
    encoded.append(encoder.finish())
    return ChapterAudio(
        index=index,
        title=title,
        data=b"".join(encoded),
        content_type=encoder.content_type,
        duration_s=position / rate,
        cues=tuple(cues),
        sample_rate_hz=rate,
    )


def _words(segment: SegmentAudio, joiner: SegmentJoiner, position: int, kept: int,
           rate: int) -> tuple[CueWord, ...]:
    """The segment's words in chapter time: moved as its audio was (trimmed, placed at
    ``position``), or estimated over its cue."""
    placement = joiner.placement
    if segment.words is None or placement is None:
        return estimated_words(segment.text, position / rate, (position + kept) / rate)
    return placed_words(segment.words, first=placement.first, kept=kept, position=position,
                        rate=rate)


def _samples_at(segment: SegmentAudio, rate: int) -> FloatSamples:
    """The segment's PCM as float32 in [-1, 1], resampled to ``rate`` when needed."""
    if len(segment.pcm_s16le) % 2:
        raise ValueError(f"segment {segment.segment_index}: odd number of PCM bytes")
    samples = pcm16_samples(segment.pcm_s16le)
    if segment.sample_rate_hz == rate or samples.size == 0:
        return samples
    resampler = StreamResampler(segment.sample_rate_hz, rate)
    return np.concatenate([resampler.process(samples), resampler.flush()])
