"""Word-level subtitles of projects through the API: the real Piper voice (aligned words),
the fake engine (estimated words), a bad ``granularity``, records from before word times."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api_tools import wait_ready
from voxserve.api.app import create_app
from voxserve.settings import Settings

_TIMING = re.compile(r"^(\d{2}):(\d{2}):(\d{2})\.(\d{3}) --> (\d{2}):(\d{2}):(\d{2})\.(\d{3})$")
_TAG = re.compile(r"<(\d{2}):(\d{2}):(\d{2})\.(\d{3})>")
TEXT = "Hello there, my friend. The quick brown fox jumps over the lazy dog.\n\n" \
       "It paid $25.50 at noon."


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("word-subtitles")


@pytest.fixture(scope="module")
def client(data_dir: Path) -> Iterator[TestClient]:
    settings = Settings(data_dir=data_dir, engines=["piper", "fake"])
    with TestClient(create_app(settings)) as test_client:
        wait_ready(test_client)
        yield test_client


def _completed(client: TestClient, body: dict[str, Any]) -> str:
    created = client.post("/v1/projects", json=body)
    assert created.status_code == 201, created.text
    project_id: str = created.json()["id"]
    deadline = time.monotonic() + 120
    while (state := client.get(f"/v1/projects/{project_id}").json()["state"]) != "completed":
        assert state in ("queued", "running") and time.monotonic() < deadline, state
        time.sleep(0.05)
    return project_id


def _seconds(parts: tuple[str, ...]) -> float:
    hours, minutes, seconds, millis = (int(part) for part in parts)
    return hours * 3600 + minutes * 60 + seconds + millis / 1000


def parse_word_vtt(vtt: str) -> list[tuple[float, float, list[tuple[float, str]]]]:
    """``(start, end, [(word start, words)...])`` per cue: the text before the first tag
    starts with the cue, each tag starts the text after it."""
    blocks = vtt.strip("\n").split("\n\n")
    assert blocks.pop(0) == "WEBVTT"
    cues = []
    for block in blocks:
        timing, *lines = block.split("\n")
        match = _TIMING.match(timing)
        assert match is not None, timing
        start, end = _seconds(match.groups()[:4]), _seconds(match.groups()[4:])
        pieces = _TAG.split(" ".join(lines))
        spans = [(start, pieces[0].strip())]
        for index in range(1, len(pieces), 5):
            spans.append((_seconds(tuple(pieces[index:index + 4])), pieces[index + 4].strip()))
        cues.append((start, end, [(at, text) for at, text in spans if text]))
    return cues


def _bare(word: str) -> str:
    return re.sub(r"[^\w$.]", "", word).strip(".")


def test_piper_words_are_aligned_cover_the_text_and_lie_in_the_audio(
    client: TestClient,
) -> None:
    project_id = _completed(client, {"text": TEXT, "model": "piper", "voice": "joe",
                                     "response_format": "wav"})
    base = f"/v1/projects/{project_id}"
    manifest = client.get(f"{base}/manifest.json").json()
    [chapter] = manifest["chapters"]
    words = [word for cue in chapter["cues"] for word in cue["words"]]
    assert [_bare(w["word"]) for w in words] == [_bare(t) for t in TEXT.split()]
    assert not any(word["estimated"] for word in words)
    for cue in chapter["cues"]:
        for word in cue["words"]:
            assert cue["start_s"] - 0.001 <= word["start_s"] <= word["end_s"] \
                <= cue["end_s"] + 0.001
    starts = [w["start_s"] for w in words]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)
    assert starts[0] >= 0 and words[-1]["end_s"] <= chapter["duration_s"] + 0.001

    response = client.get(f"{base}/subtitles.vtt", params={"chapter": 0,
                                                           "granularity": "word"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/vtt")
    cues = parse_word_vtt(response.text)
    assert len(cues) == len(chapter["cues"]) == 3
    timed = [span for _, _, spans in cues for span in spans]
    assert " ".join(text for _, text in timed).split() == TEXT.split()
    times = [at for at, _ in timed]
    assert times == sorted(times)
    for (start, end, spans), cue in zip(cues, chapter["cues"], strict=True):
        assert [at for at, _ in spans] == pytest.approx(
            [w["start_s"] for w in cue["words"]], abs=0.0011)
        assert all(start <= at < end for at, _ in spans)
    book = client.get(f"{base}/subtitles.vtt", params={"granularity": "word"})
    assert book.status_code == 200 and parse_word_vtt(book.text) == cues  # one chapter
    srt = client.get(f"{base}/subtitles.srt", params={"granularity": "word"})
    assert srt.status_code == 200 and srt.text.count("-->") == len(words)


def test_fake_engine_words_are_estimated_and_a_bad_granularity_is_a_400(
    client: TestClient,
) -> None:
    project_id = _completed(client, {"text": "# One\n\nTwo words. Three more words.",
                                     "markdown": True, "model": "fake",
                                     "voice": "fake-tone", "response_format": "wav"})
    base = f"/v1/projects/{project_id}"
    manifest = client.get(f"{base}/manifest.json").json()
    words = [w for chapter in manifest["chapters"] for cue in chapter["cues"]
             for w in cue["words"]]
    assert words and all(word["estimated"] for word in words)
    sentence = client.get(f"{base}/subtitles.vtt").text
    assert "<00:" not in sentence  # the default stays sentence cues
    assert client.get(f"{base}/subtitles.vtt", params={"granularity": "sentence"}).text \
        == sentence
    word = client.get(f"{base}/subtitles.vtt", params={"granularity": "word"}).text
    assert word.count("-->") == sentence.count("-->") and "<00:" in word
    for path in ("subtitles.vtt", "subtitles.srt"):
        for params in ({"granularity": "words"}, {"granularity": "", "chapter": "0"}):
            response = client.get(f"{base}/{path}", params=params)
            assert response.status_code == 400, response.text
            error = response.json()["error"]
            assert error["param"] == "granularity" and "sentence, word" in error["message"]
    missing = client.get(f"{base}/subtitles.vtt", params={"granularity": "word",
                                                          "chapter": 9})
    assert missing.status_code == 404


def test_chapters_recorded_before_word_times_get_estimated_words(
    client: TestClient, data_dir: Path,
) -> None:
    project_id = _completed(client, {"text": "First line here. Second one.", "model": "piper",
                                     "voice": "joe", "response_format": "wav"})
    records = sorted((data_dir / "artifacts" / "projects" / project_id / "chapters").glob("*"))
    assert records
    for path in records:  # as written before cues kept their words
        record = json.loads(path.read_text())
        record["cues"] = [cue[:5] for cue in record["cues"]]
        path.write_text(json.dumps(record))
    base = f"/v1/projects/{project_id}"
    for params in ({"granularity": "word"}, {"granularity": "word", "chapter": "0"}):
        response = client.get(f"{base}/subtitles.vtt", params=params)
        assert response.status_code == 200, response.text
        cues = parse_word_vtt(response.text)
        assert [text for _, _, spans in cues for _, text in spans] == [
            "First", "line", "here.", "Second", "one."]


def test_book_words_are_each_chapters_words_at_its_start_in_the_book(
    client: TestClient,
) -> None:
    project_id = _completed(client, {
        "text": "# One\n\nFirst words here.\n\n# Two\n\nSecond chapter words. And more.",
        "markdown": True, "model": "piper", "voice": "joe", "response_format": "mp3"})
    base = f"/v1/projects/{project_id}"
    manifest = client.get(f"{base}/manifest.json").json()
    assert len(manifest["chapters"]) == 2 and manifest["manifest_version"] == 3
    book = parse_word_vtt(client.get(f"{base}/subtitles.vtt",
                                     params={"granularity": "word"}).text)
    expected = []
    for chapter in manifest["chapters"]:
        cues = parse_word_vtt(client.get(f"{base}/subtitles.vtt", params={
            "granularity": "word", "chapter": str(chapter["index"])}).text)
        assert chapter["start_s"] is not None
        expected += [(start + chapter["start_s"], end + chapter["start_s"],
                      [(at + chapter["start_s"], text) for at, text in spans])
                     for start, end, spans in cues]
    assert len(book) == len(expected) == 2 + 3  # the spoken titles, then the sentences
    for got, want in zip(book, expected, strict=True):
        assert got[0] == pytest.approx(want[0], abs=0.0015)
        assert [text for _, text in got[2]] == [text for _, text in want[2]]
        assert [at for at, _ in got[2]] == pytest.approx([at for at, _ in want[2]], abs=0.0015)
    assert book[2][0] > manifest["chapters"][1]["start_s"] - 0.001 > 0
