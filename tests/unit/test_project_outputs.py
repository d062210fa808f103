"""Output builders of document-conversion projects: chapters, book, subtitles, manifest."""

from __future__ import annotations

import dataclasses
import io
import json
import re
import tracemalloc
from collections.abc import Sequence
from pathlib import Path

import av
import mutagen.flac
import mutagen.id3
import mutagen.mp4
import mutagen.oggopus
import numpy as np
import numpy.typing as npt
import pytest

import voxserve
from voxserve.jobs.outputs import (
    BookAudio,
    ChapterAudio,
    Cue,
    SegmentAudio,
    assemble_chapter,
    build_book,
    build_manifest,
    to_srt,
    to_webvtt,
)
from voxserve.types import AudioFormat

RATE = 24_000
#: (chapter, paragraph, frequency Hz, tone length in samples) per segment, in global order.
LAYOUT = [
    (0, 0, 300, 7_200),
    (0, 0, 500, 4_800),
    (0, 1, 700, 6_000),
    (1, 0, 900, 9_600),
    (1, 1, 1_100, 4_800),
    (1, 1, 1_300, 7_200),
]
SILENT_EDGE = 1_200  # samples of silence around each tone, trimmed by the joiner to 10 ms
MARGIN = round(0.010 * RATE)
LOSSY_SLACK_S = 0.1  # encoder delay + padding to whole frames (mp3, aac, opus)
EXACT = (AudioFormat.WAV, AudioFormat.PCM, AudioFormat.FLAC)


def _segment(index: int, rate: int = RATE) -> SegmentAudio:
    chapter, paragraph, frequency, length = LAYOUT[index]
    length = length * rate // RATE
    tone = 0.5 * np.sin(2 * np.pi * frequency * np.arange(length) / rate)
    edge = np.zeros(SILENT_EDGE * rate // RATE)
    pcm = np.rint(np.concatenate([edge, tone, edge]) * 32767).astype("<i2")
    return SegmentAudio(chapter, paragraph, index, f"Segment {index}.", pcm.tobytes(), rate)


def _segments() -> dict[int, list[SegmentAudio]]:
    by_chapter: dict[int, list[SegmentAudio]] = {}
    for index in reversed(range(len(LAYOUT))):  # out of order on purpose
        by_chapter.setdefault(LAYOUT[index][0], []).append(_segment(index))
    return by_chapter


def _chapters(audio_format: AudioFormat) -> list[ChapterAudio]:
    return [
        assemble_chapter(index, f"Chapter {index + 1}", segments, audio_format=audio_format)
        for index, segments in sorted(_segments().items())
    ]


def _decode(data: bytes, audio_format: AudioFormat) -> tuple[npt.NDArray[np.float32], int]:
    if audio_format == AudioFormat.PCM:
        return (np.frombuffer(data, "<i2") / 32768).astype(np.float32), RATE
    with av.open(io.BytesIO(data)) as container:
        rate = container.streams.audio[0].rate
        frames = [f.to_ndarray().reshape(-1) for f in container.decode(audio=0)]
    return np.concatenate(frames).astype(np.float32), rate


def _peak_hz(samples: npt.NDArray[np.float32], rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size)))
    return float(np.fft.rfftfreq(samples.size, 1 / rate)[int(np.argmax(spectrum))])


def _tone_length_s(index: int) -> float:
    """Length of a segment after trimming: the tone (to within a sample) plus both margins."""
    return (LAYOUT[index][3] + 2 * MARGIN) / RATE


def _assert_rows(got: Sequence[tuple[object, ...]], expected: Sequence[tuple[object, ...]]) -> None:
    """Rows equal, floats to within a millisecond."""
    assert len(got) == len(expected), (got, expected)
    for row, want in zip(got, expected, strict=True):
        for value, wanted in zip(row, want, strict=True):
            if isinstance(wanted, float):
                assert value == pytest.approx(wanted, abs=0.001), (row, want)
            else:
                assert value == wanted, (row, want)


# --- chapters --------------------------------------------------------------------------------


def test_chapter_cues_are_consecutive_and_hold_their_segments_tone() -> None:
    chapter = _chapters(AudioFormat.WAV)[0]
    samples, rate = _decode(chapter.data, AudioFormat.WAV)
    assert samples.size == round(chapter.duration_s * RATE)
    assert [cue.segment_index for cue in chapter.cues] == [0, 1, 2]
    assert chapter.cues[0].start_s == 0 and chapter.cues[-1].end_s == chapter.duration_s
    for cue, nxt in zip(chapter.cues, chapter.cues[1:], strict=False):
        assert cue.start_s < cue.end_s <= nxt.start_s
    # 200 ms between sentences, 600 ms at the paragraph change
    assert chapter.cues[1].start_s - chapter.cues[0].end_s == pytest.approx(0.2)
    assert chapter.cues[2].start_s - chapter.cues[1].end_s == pytest.approx(0.6)
    for cue in chapter.cues:
        tone_s = _tone_length_s(cue.segment_index)
        assert cue.end_s - cue.start_s == pytest.approx(tone_s, abs=2 / RATE)
        span = samples[round(cue.start_s * rate) : round(cue.end_s * rate)]
        assert _peak_hz(span, rate) == pytest.approx(LAYOUT[cue.segment_index][2], abs=5)
        assert cue.text == f"Segment {cue.segment_index}."


@pytest.mark.parametrize("audio_format", list(AudioFormat))
def test_chapter_decodes_to_its_duration(audio_format: AudioFormat) -> None:
    chapter = _chapters(audio_format)[1]
    assert (
        chapter.content_type
        == {
            AudioFormat.WAV: "audio/wav",
            AudioFormat.PCM: "audio/pcm",
            AudioFormat.MP3: "audio/mpeg",
            AudioFormat.OPUS: "audio/ogg",
            AudioFormat.FLAC: "audio/flac",
            AudioFormat.AAC: "audio/aac",
        }[audio_format]
    )
    samples, rate = _decode(chapter.data, audio_format)
    if audio_format in EXACT:
        assert samples.size == round(chapter.duration_s * RATE)
    else:
        assert samples.size / rate == pytest.approx(chapter.duration_s, abs=LOSSY_SLACK_S)


def test_chapter_resamples_segments_at_another_rate() -> None:
    segments = [_segment(0), _segment(1, rate=16_000)]
    chapter = assemble_chapter(0, "Mixed", segments, audio_format=AudioFormat.PCM)
    second = chapter.cues[1]
    assert second.end_s - second.start_s == pytest.approx(_tone_length_s(1), abs=0.002)
    samples, _ = _decode(chapter.data, AudioFormat.PCM)
    span = samples[round(second.start_s * RATE) : round(second.end_s * RATE)]
    assert _peak_hz(span, RATE) == pytest.approx(500, abs=5)


def test_chapter_refuses_foreign_or_no_segments() -> None:
    with pytest.raises(ValueError, match="chapter 1"):
        assemble_chapter(1, "x", [_segment(0)], audio_format=AudioFormat.WAV)
    with pytest.raises(ValueError):
        assemble_chapter(0, "x", [], audio_format=AudioFormat.WAV)


def test_silent_segment_gets_no_cue() -> None:
    silent = SegmentAudio(0, 0, 9, "…", bytes(2_000), RATE)
    chapter = assemble_chapter(0, "x", [_segment(0), silent], audio_format=AudioFormat.PCM)
    assert [cue.segment_index for cue in chapter.cues] == [0]


# --- book ------------------------------------------------------------------------------------


def _book(audio_format: AudioFormat, directory: Path) -> tuple[list[ChapterAudio], BookAudio]:
    chapters = _chapters(audio_format)
    return chapters, build_book("The Book", chapters, audio_format=audio_format,
                                path=directory / "book")


@pytest.mark.parametrize("audio_format", list(AudioFormat))
def test_book_duration_is_chapters_plus_pauses(audio_format: AudioFormat, tmp_path: Path) -> None:
    chapters, book = _book(audio_format, tmp_path)
    gap = 1.5
    samples, rate = _decode(book.path.read_bytes(), audio_format)
    if audio_format in EXACT:
        assert book.chapter_starts_s == pytest.approx((0.0, chapters[0].duration_s + gap))
        chapter_samples = sum(round(chapter.duration_s * RATE) for chapter in chapters)
        assert round(book.duration_s * RATE) == chapter_samples + round(gap * RATE)
        assert samples.size == round(book.duration_s * RATE)
    else:
        # copied packets: each piece (chapter, pause, chapter) keeps its encoder delay and
        # its padding to whole frames
        assert book.chapter_starts_s[0] == 0.0
        assert book.chapter_starts_s[1] == pytest.approx(
            chapters[0].duration_s + gap, abs=2 * LOSSY_SLACK_S)
        assert book.chapter_starts_s[1] >= chapters[0].duration_s + gap
        assert book.duration_s == pytest.approx(
            sum(chapter.duration_s for chapter in chapters) + gap, abs=3 * LOSSY_SLACK_S)
        assert samples.size / rate == pytest.approx(book.duration_s, abs=LOSSY_SLACK_S)
    assert book.extension == {AudioFormat.AAC: "m4b", AudioFormat.OPUS: "opus"}.get(
        audio_format, audio_format.value
    )


def test_book_cues_are_chapter_cues_shifted_and_hold_their_tones(tmp_path: Path) -> None:
    chapters, book = _book(AudioFormat.WAV, tmp_path)
    expected = [
        (cue.start_s + start, cue.end_s + start, cue.segment_index)
        for chapter, start in zip(chapters, book.chapter_starts_s, strict=True)
        for cue in chapter.cues
    ]
    got = [(cue.start_s, cue.end_s, cue.segment_index) for cue in book.cues]
    _assert_rows(got, expected)
    samples, rate = _decode(book.path.read_bytes(), AudioFormat.WAV)
    for cue in book.cues:
        span = samples[round(cue.start_s * rate) : round(cue.end_s * rate)]
        assert _peak_hz(span, rate) == pytest.approx(LAYOUT[cue.segment_index][2], abs=5)


@pytest.mark.parametrize("audio_format", [AudioFormat.MP3, AudioFormat.AAC, AudioFormat.OPUS])
def test_lossy_book_copies_chapter_packets_and_its_cues_hold_their_tones(
    audio_format: AudioFormat, tmp_path: Path
) -> None:
    chapters, book = _book(audio_format, tmp_path)
    # no second encoding: every packet of every chapter is in the book, byte for byte
    book_packets = _packet_payloads(book.path.read_bytes())
    position = 0
    for chapter in chapters:
        packets = _packet_payloads(chapter.data)
        found = _find_run(book_packets, packets, position)
        assert found >= 0, f"chapter {chapter.index}'s packets are not in the book"
        position = found + len(packets)
    samples, rate = _decode(book.path.read_bytes(), audio_format)
    for cue in book.cues:
        start, end = round(cue.start_s * rate), round(cue.end_s * rate)
        middle = samples[start + (end - start) // 4 : end - (end - start) // 4]
        assert _peak_hz(middle, rate) == pytest.approx(LAYOUT[cue.segment_index][2], abs=15)


def _packet_payloads(data: bytes) -> list[bytes]:
    """Each packet's codec payload (an ADTS frame without its 7- or 9-byte header, as MP4
    stores AAC)."""
    with av.open(io.BytesIO(data)) as container:
        payloads = [bytes(packet) for packet in container.demux(audio=0) if packet.size]
    return [
        payload[7 if payload[1] & 1 else 9 :]
        if payload[0] == 0xFF and payload[1] & 0xF6 == 0xF0 else payload
        for payload in payloads
    ]


def _find_run(haystack: Sequence[bytes], needle: Sequence[bytes], start: int) -> int:
    """Index where ``needle`` occurs whole in ``haystack`` at or after ``start``, else -1."""
    for index in range(start, len(haystack) - len(needle) + 1):
        if list(haystack[index : index + len(needle)]) == list(needle):
            return index
    return -1


@pytest.mark.parametrize("audio_format", [AudioFormat.WAV, AudioFormat.FLAC, AudioFormat.PCM])
def test_book_refuses_a_chapter_that_does_not_decode_to_its_duration(
    audio_format: AudioFormat, tmp_path: Path
) -> None:
    first, second = _chapters(audio_format)
    stretched = dataclasses.replace(second, duration_s=second.duration_s + 0.5)
    with pytest.raises(ValueError, match="does not decode to its duration"):
        build_book("x", [first, stretched], audio_format=audio_format,
                   path=tmp_path / "book")


def test_book_refuses_lossy_chapters_at_other_rates(tmp_path: Path) -> None:
    first, second = _chapters(AudioFormat.MP3)
    other = assemble_chapter(1, "Other", [
        dataclasses.replace(_segment(3, rate=16_000), chapter_index=1)
    ], audio_format=AudioFormat.MP3)
    with pytest.raises(ValueError, match="different sample rates"):
        build_book("x", [first, other], audio_format=AudioFormat.MP3,
                   path=tmp_path / "book")
    assert second.sample_rate_hz == RATE


@pytest.mark.parametrize("audio_format", list(AudioFormat))
def test_book_from_chapter_files_is_the_book_from_chapters_in_memory(
    audio_format: AudioFormat, tmp_path: Path
) -> None:
    chapters, book = _book(audio_format, tmp_path)
    on_disk = []
    for chapter in chapters:
        path = tmp_path / f"chapter-{chapter.index}"
        assert isinstance(chapter.data, bytes)
        path.write_bytes(chapter.data)
        on_disk.append(dataclasses.replace(chapter, data=path))
    from_files = build_book("The Book", on_disk, audio_format=audio_format,
                            path=tmp_path / "book-from-files")
    if audio_format == AudioFormat.OPUS:  # each Ogg file gets a random stream serial
        assert _packet_payloads(from_files.path.read_bytes()) == _packet_payloads(
            book.path.read_bytes())
    else:
        assert from_files.path.read_bytes() == book.path.read_bytes()
    assert (from_files.duration_s, from_files.chapter_starts_s, from_files.cues) == (
        book.duration_s, book.chapter_starts_s, book.cues)


@pytest.mark.parametrize("audio_format", [AudioFormat.WAV, AudioFormat.FLAC, AudioFormat.MP3])
def test_a_long_book_is_built_a_block_at_a_time(audio_format: AudioFormat, tmp_path: Path) -> None:
    """Chapters on disk and the book written as it goes: memory stays far below the book's
    samples (the whole book in float32 was held before)."""
    minutes = 2
    tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(60 * RATE) / RATE)
    minute = SegmentAudio(0, 0, 0, "A minute.", np.rint(tone * 32767).astype("<i2").tobytes(),
                          RATE)
    chapters = []
    for index in range(2):
        segments = [dataclasses.replace(minute, chapter_index=index, paragraph_index=n,
                                        segment_index=index * minutes + n)
                    for n in range(minutes)]
        chapter = assemble_chapter(index, f"Chapter {index + 1}", segments,
                                   audio_format=audio_format)
        path = tmp_path / f"chapter-{index}"
        assert isinstance(chapter.data, bytes)
        path.write_bytes(chapter.data)
        chapters.append(dataclasses.replace(chapter, data=path))
    del chapter, segments
    book_samples = 2 * minutes * 60 * RATE
    tracemalloc.start()
    try:
        book = build_book("Long", chapters, audio_format=audio_format, path=tmp_path / "book")
        _, peak_bytes = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert book.duration_s == pytest.approx(sum(c.duration_s for c in chapters) + 1.5,
                                            abs=0.2)
    assert peak_bytes < book_samples * 2 / 10, f"peak {peak_bytes / 1e6:.1f} MB"


def _av_chapters(data: bytes) -> list[tuple[float, str]]:
    with av.open(io.BytesIO(data)) as container:
        return [
            (float(ch["start"] * ch["time_base"]), ch["metadata"]["title"])
            for ch in container.chapters()
            if ch["time_base"] is not None
        ]


def _expected_markers(book: BookAudio) -> list[tuple[float, str]]:
    return [(start, f"Chapter {n}") for n, start in enumerate(book.chapter_starts_s, start=1)]


def test_mp3_book_has_id3_chap_and_ctoc_frames(tmp_path: Path) -> None:
    _, book = _book(AudioFormat.MP3, tmp_path)
    tags = mutagen.id3.ID3(io.BytesIO(book.path.read_bytes()))
    chaps = sorted(tags.getall("CHAP"), key=lambda frame: frame.start_time)
    assert [(c.start_time, c.end_time) for c in chaps] == [
        (0, round(book.chapter_starts_s[1] * 1000)),
        (round(book.chapter_starts_s[1] * 1000), round(book.duration_s * 1000)),
    ]
    assert [str(c.sub_frames["TIT2"]) for c in chaps] == ["Chapter 1", "Chapter 2"]
    (toc,) = tags.getall("CTOC")
    assert toc.flags & mutagen.id3.CTOCFlags.TOP_LEVEL and toc.flags & mutagen.id3.CTOCFlags.ORDERED
    assert list(toc.child_element_ids) == [c.element_id for c in chaps]
    assert str(tags["TIT2"]) == "The Book"
    _assert_rows(_av_chapters(book.path.read_bytes()), _expected_markers(book))


def test_m4b_book_has_chapters_for_ffmpeg_and_mutagen(tmp_path: Path) -> None:
    _, book = _book(AudioFormat.AAC, tmp_path)
    assert book.content_type == "audio/mp4" and book.path.read_bytes()[4:12] == b"ftypM4B "
    _assert_rows(_av_chapters(book.path.read_bytes()), _expected_markers(book))
    mp4 = mutagen.mp4.MP4(io.BytesIO(book.path.read_bytes()))
    assert mp4.chapters is not None
    _assert_rows([(c.start, c.title) for c in mp4.chapters], _expected_markers(book))
    assert mp4.tags is not None and mp4.tags["\xa9nam"] == ["The Book"]


@pytest.mark.parametrize("audio_format", [AudioFormat.FLAC, AudioFormat.OPUS])
def test_flac_and_ogg_books_have_vorbis_comment_chapters(
    audio_format: AudioFormat, tmp_path: Path
) -> None:
    _, book = _book(audio_format, tmp_path)
    reader = mutagen.flac.FLAC if audio_format == AudioFormat.FLAC else mutagen.oggopus.OggOpus
    tags = reader(io.BytesIO(book.path.read_bytes())).tags
    assert tags is not None
    second = book.chapter_starts_s[1]
    assert tags["CHAPTER001"] == ["00:00:00.000"]
    assert tags["CHAPTER001NAME"] == ["Chapter 1"]
    assert tags["CHAPTER002"] == [f"00:00:{second:06.3f}"]
    assert tags["CHAPTER002NAME"] == ["Chapter 2"]
    _assert_rows(_av_chapters(book.path.read_bytes()), _expected_markers(book))


# --- subtitles -------------------------------------------------------------------------------

CUES = [
    Cue(0.0, 1.5, "Hello & welcome <to> the show --> now.", 0),
    Cue(1.7, 3723.0456, "  A second\nline  ", 1),
    Cue(3723.5, 3724.0, "   ", 2),  # no text: left out
]
GOLDEN_VTT = """WEBVTT

00:00:00.000 --> 00:00:01.500
Hello &amp; welcome &lt;to&gt; the show --&gt; now.

00:00:01.700 --> 01:02:03.046
A second line
"""
GOLDEN_SRT = """1
00:00:00,000 --> 00:00:01,500
Hello & welcome <to> the show --> now.

2
00:00:01,700 --> 01:02:03,046
A second line
"""


def test_webvtt_golden() -> None:
    assert to_webvtt(CUES) == GOLDEN_VTT


def test_srt_golden() -> None:
    assert to_srt(CUES) == GOLDEN_SRT


def _seconds(stamp: str) -> float:
    hours, minutes, rest = stamp.replace(",", ".").split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(rest)


_TIMING = re.compile(r"^(\d{2,}:\d{2}:\d{2}[.,]\d{3}) --> (\d{2,}:\d{2}:\d{2}[.,]\d{3})$")


def _parse(text: str, *, numbered: bool) -> list[tuple[float, float, str]]:
    """A tiny subtitle parser: ``(start, end, text)`` per block."""
    blocks = text.strip("\n").split("\n\n")
    if not numbered:
        assert blocks.pop(0) == "WEBVTT"
    parsed = []
    for number, block in enumerate(blocks, start=1):
        lines = block.split("\n")
        if numbered:
            assert lines.pop(0) == str(number)
        match = _TIMING.match(lines[0])
        assert match is not None, lines[0]
        body = " ".join(lines[1:])
        if not numbered:
            body = body.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
        parsed.append((_seconds(match[1]), _seconds(match[2]), body))
    return parsed


def test_subtitles_parse_back_to_the_book_cues(tmp_path: Path) -> None:
    _, book = _book(AudioFormat.PCM, tmp_path)
    expected = [(round(c.start_s, 3), round(c.end_s, 3), c.text) for c in book.cues]
    for text, numbered in ((to_webvtt(book.cues), False), (to_srt(book.cues), True)):
        parsed = _parse(text, numbered=numbered)
        _assert_rows(parsed, expected)
    assert _parse(GOLDEN_VTT, numbered=False)[0][2] == CUES[0].text


def test_long_text_is_wrapped_into_at_most_two_lines() -> None:
    words = " ".join(f"word{n}" for n in range(30))  # ~200 characters
    for text in (to_webvtt([Cue(0, 1, words, 0)]), to_srt([Cue(0, 1, words, 0)])):
        lines = [line for line in text.split("\n") if line.startswith("word")]
        assert len(lines) == 2 and " ".join(lines) == words
    short = "x" * 20 + " " + "y" * 30
    assert to_srt([Cue(0, 1, short, 0)]).split("\n")[2:4] == ["x" * 20, "y" * 30]


# --- manifest --------------------------------------------------------------------------------


def test_manifest_fields(tmp_path: Path) -> None:
    chapters, book = _book(AudioFormat.MP3, tmp_path)
    files = {
        "chapters/chapter-000.mp3": "p/chapters/chapter-000.mp3",
        "chapters/chapter-000.vtt": "p/chapters/chapter-000.vtt",
        "chapters/chapter-001.mp3": "p/chapters/chapter-001.mp3",
        "book.mp3": "p/book.mp3",
    }
    manifest = build_manifest(
        project_id="p1", title="The Book", chapters=chapters, book=book, files=files
    )
    assert json.loads(json.dumps(manifest)) == manifest
    assert manifest["project_id"] == "p1" and manifest["title"] == "The Book"
    assert manifest["duration_s"] == round(book.duration_s, 3)
    assert manifest["generator"] == {"name": "voxserve", "version": _version()}
    assert manifest["files"] == files
    entries = manifest["chapters"]
    assert isinstance(entries, list)
    assert [(e["index"], e["title"], e["segment_count"]) for e in entries] == [
        (0, "Chapter 1", 3),
        (1, "Chapter 2", 3),
    ]
    assert [e["start_s"] for e in entries] == [round(s, 3) for s in book.chapter_starts_s]
    assert [e["duration_s"] for e in entries] == [round(c.duration_s, 3) for c in chapters]
    assert entries[0]["files"] == ["chapters/chapter-000.mp3", "chapters/chapter-000.vtt"]
    assert entries[1]["files"] == ["chapters/chapter-001.mp3"]


def test_manifest_without_book_sums_chapters() -> None:
    chapters = _chapters(AudioFormat.PCM)
    manifest = build_manifest(project_id="p", title="t", chapters=chapters, book=None, files={})
    assert manifest["duration_s"] == round(sum(c.duration_s for c in chapters), 3)
    assert manifest["book"] is None
    entries = manifest["chapters"]
    assert isinstance(entries, list) and all(e["start_s"] is None for e in entries)


def _version() -> str:
    return voxserve.__version__


def test_a_chapter_is_encoded_segment_by_segment() -> None:
    """Assembling holds one segment's samples at a time, not the whole chapter's."""
    seconds, count = 5, 48
    tone = 0.3 * np.sin(2 * np.pi * 330 * np.arange(seconds * RATE) / RATE)
    pcm = np.rint(tone * 32767).astype("<i2").tobytes()
    segments = [SegmentAudio(0, n // 4, n, f"Segment {n}.", pcm, RATE) for n in range(count)]
    chapter_float_bytes = 4 * seconds * count * RATE
    tracemalloc.start()
    try:
        chapter = assemble_chapter(0, "Long", segments, audio_format=AudioFormat.MP3)
        _, peak_bytes = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(chapter.cues) == count
    assert chapter.duration_s == pytest.approx(chapter.cues[-1].end_s)
    assert peak_bytes < chapter_float_bytes / 4, f"peak {peak_bytes / 1e6:.1f} MB"
