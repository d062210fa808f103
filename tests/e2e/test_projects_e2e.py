"""A real server converts a multi-chapter text with the bundled voice; ``voxserve convert``."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.audio_tools import decode_audio

pytestmark = pytest.mark.e2e

BOOK = """# The test book

## Morning

The sun rose over the hills. Birds began to sing.

## Evening

The sun went down. Everyone went home to sleep.
"""


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []
    calls = [0]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            calls[0] += 1
            body = self.rfile.read(int(self.headers["content-length"]))
            if calls[0] == 1:  # the first try fails: the notifier retries
                self.send_response(500)
            else:
                received.append(json.loads(body))
                self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return None

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()


def _cue_times(vtt: str) -> list[tuple[float, float]]:
    def seconds(stamp: str) -> float:
        hours, minutes, rest = stamp.strip().split(":")
        return int(hours) * 3600 + int(minutes) * 60 + float(rest)

    return [tuple(seconds(part) for part in line.split("-->")[:2])  # type: ignore[misc]
            for line in vtt.splitlines() if "-->" in line]


def test_server_converts_a_book(
    server_url: str, webhook: tuple[str, list[dict[str, Any]]]
) -> None:
    hook_url, received = webhook
    created = httpx.post(
        f"{server_url}/v1/projects",
        files={"file": ("book.md", BOOK.encode(), "text/markdown")},
        data={"voice": "joe", "response_format": "wav", "webhook_url": hook_url}, timeout=30,
    )
    assert created.status_code == 201, created.text
    project_id = created.json()["id"]
    with httpx.stream("GET", f"{server_url}/v1/projects/{project_id}/events",
                      timeout=120) as events:
        body = "".join(events.iter_text())
    assert "event: completed" in body
    base = f"{server_url}/v1/projects/{project_id}"
    status = httpx.get(base).json()
    assert status["state"] == "completed" and status["progress"]["percent"] == 100.0
    chapters = []
    for index in (0, 1):
        samples, rate = decode_audio(httpx.get(f"{base}/chapters/{index}/audio").content)
        chapters.append(len(samples) / rate)
    samples, rate = decode_audio(httpx.get(f"{base}/audio").content)
    book_s = len(samples) / rate
    manifest = httpx.get(f"{base}/manifest.json").json()
    starts = [c["start_s"] for c in manifest["chapters"]]
    gap = starts[1] - chapters[0]
    assert gap >= 0 and book_s == pytest.approx(sum(chapters) + gap, abs=0.05)
    # cues: one per segment (each chapter's spoken title, then its sentences), in order,
    # inside the audio, not overlapping
    vtt = httpx.get(f"{base}/subtitles.vtt").text
    cues = _cue_times(vtt)
    assert len(cues) == status["segments"] == 6
    assert "Morning" in vtt and "Evening" in vtt
    assert all(start < end for start, end in cues)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(cues))
    assert cues[-1][1] <= book_s + 0.01 and cues[3][0] >= starts[1] - 0.01
    chapter_cues = _cue_times(httpx.get(f"{base}/subtitles.vtt?chapter=1").text)
    # millisecond times, the chapter's start rounded to the millisecond too
    shifted = [start + starts[1] for start, _ in chapter_cues]
    assert shifted == pytest.approx([start for start, _ in cues[3:]], abs=0.0025)
    deadline = time.monotonic() + 15
    while not received:
        assert time.monotonic() < deadline, "webhook not delivered"
        time.sleep(0.1)
    assert received[0]["project_id"] == project_id and received[0]["state"] == "completed"


def test_convert_cli(tmp_path: Path) -> None:
    source = tmp_path / "book.md"
    source.write_text(BOOK)
    out = tmp_path / "out"
    env = {**os.environ, "VOXSERVE_DATA_DIR": str(tmp_path / "data")}
    result = subprocess.run(
        [sys.executable, "-m", "voxserve", "convert", str(source), "-o", str(out),
         "--voice", "joe", "--format", "mp3"],
        env=env, capture_output=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr.decode()
    names = sorted(path.name for path in out.iterdir())
    expected = {"book.srt", "book.vtt", "manifest.json"} | {
        f"chapter-00{n}.{kind}" for n in (0, 1) for kind in ("mp3", "srt", "vtt")}
    assert expected <= set(names) and any(
        name.startswith("book.") and name not in expected for name in names), names
    manifest = json.loads((out / "manifest.json").read_text())
    assert all((out / path).is_file() for path in manifest["files"].values())
    bad = subprocess.run(
        [sys.executable, "-m", "voxserve", "convert", str(source), "-o", str(out),
         "--voice", "nobody"], env=env, capture_output=True, timeout=60,
    )
    assert bad.returncode == 2 and b"nobody" in bad.stderr


def test_convert_cli_cuts_long_chapters_into_parts(tmp_path: Path) -> None:
    source = tmp_path / "long.txt"
    source.write_text(" ".join(f"Sentence {n} of a text without headings." for n in range(9)))
    out = tmp_path / "out"
    env = {**os.environ, "VOXSERVE_DATA_DIR": str(tmp_path / "data"),
           "VOXSERVE_ENGINES": "fake", "VOXSERVE_MAX_CHAPTER_SEGMENTS": "4"}
    result = subprocess.run(
        [sys.executable, "-m", "voxserve", "convert", str(source), "-o", str(out),
         "--model", "fake", "--voice", "fake-tone", "--format", "wav"],
        env=env, capture_output=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr.decode()
    manifest = json.loads((out / "manifest.json").read_text())
    assert [chapter["title"] for chapter in manifest["chapters"]] == [
        f"long (part {n} of 3)" for n in (1, 2, 3)]
    assert all((out / f"chapter-00{n}.wav").is_file() for n in (0, 1, 2))
