"""The projects API in-process: fake and Piper engines, in-process queue and workers."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api_tools import wait_ready
from tests.audio_tools import decode_audio
from tests.jobs_tools import BOOK_MD, new_project
from voxserve.api.app import create_app
from voxserve.engines.fake import tone_for
from voxserve.jobs.store.database import upgrade_database
from voxserve.jobs.store.repository import JobRepository
from voxserve.jobs.work.chapters import segment_key
from voxserve.settings import Settings

FAKE = {"model": "fake", "voice": "fake-tone", "response_format": "wav"}



@pytest.fixture(scope="module")
def app_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(data_dir=tmp_path_factory.mktemp("jobs-api"), engines=["piper", "fake"],
                    max_upload_bytes=4096, task_retry_base_delay_ms=10, task_max_attempts=2)


@pytest.fixture(scope="module")
def client(app_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(app_settings)) as test_client:
        wait_ready(test_client)
        yield test_client


def _wait_state(client: TestClient, project_id: str, timeout_s: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        body: dict[str, Any] = client.get(f"/v1/projects/{project_id}").json()
        if body["state"] in ("completed", "failed", "canceled"):
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.05)


def _assert_error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["message"] and error["type"]
    return error


def _upload(client: TestClient, content: bytes, filename: str = "book.md",
            **fields: str) -> Any:
    return client.post("/v1/projects", files={"file": (filename, content, "text/plain")},
                       data={**FAKE, **fields})


def test_upload_markdown_completes_with_consistent_outputs(client: TestClient) -> None:
    created = _upload(client, BOOK_MD.encode())
    assert created.status_code == 201, created.text
    project = created.json()
    assert project["state"] in ("queued", "running")
    # 5 sentences and the 2 chapter titles, spoken (speak_chapter_titles)
    assert project["title"] == "A small book" and project["segments"] == 7
    done = _wait_state(client, project["id"])
    assert done["state"] == "completed", done
    progress = done["progress"]
    assert progress["percent"] == 100.0 and progress["segments_done"] == 7
    assert [c["segments_done"] for c in progress["chapters"]] == [4, 3]
    manifest = client.get(f"/v1/projects/{project['id']}/manifest.json").json()
    durations = []
    for index in (0, 1):
        response = client.get(f"/v1/projects/{project['id']}/chapters/{index}/audio")
        assert response.status_code == 200
        samples, rate = decode_audio(response.content)
        durations.append(len(samples) / rate)
        assert manifest["chapters"][index]["duration_s"] == pytest.approx(durations[-1], abs=0.01)
    book = client.get(f"/v1/projects/{project['id']}/audio")
    assert book.status_code == 200
    samples, rate = decode_audio(book.content)
    book_s = len(samples) / rate
    starts = [c["start_s"] for c in manifest["chapters"]]
    assert starts[0] == 0.0 and starts[1] >= durations[0]
    assert book_s == pytest.approx(starts[1] + durations[1], abs=0.05)
    assert sum(durations) <= book_s
    vtt = client.get(f"/v1/projects/{project['id']}/subtitles.vtt")
    assert vtt.status_code == 200 and vtt.text.startswith("WEBVTT")
    assert vtt.text.count("-->") == 7
    assert "The first chapter" in vtt.text and "The second chapter" in vtt.text
    srt = client.get(f"/v1/projects/{project['id']}/subtitles.srt", params={"chapter": 1})
    assert srt.status_code == 200 and srt.text.count("-->") == 3
    _assert_error(client.get(f"/v1/projects/{project['id']}/chapters/7/audio"), 404)


def test_json_text_with_the_real_voice(client: TestClient) -> None:
    created = client.post("/v1/projects", json={
        "text": "Hello there. This is a short book.\n\nIt has two paragraphs.",
        "model": "piper", "voice": "joe", "response_format": "mp3", "name": "piper book"})
    assert created.status_code == 201, created.text
    done = _wait_state(client, created.json()["id"])
    assert done["state"] == "completed" and done["voice"] == "en_US-joe-medium"
    audio = client.get(f"/v1/projects/{done['id']}/audio")
    assert audio.status_code == 200
    samples, rate = decode_audio(audio.content)
    assert rate == 22050 and len(samples) / rate > 1.5
    assert done["progress"]["audio_seconds"] > 1.5


def test_bad_requests_are_4xx_and_create_nothing(client: TestClient) -> None:
    before = client.get("/v1/projects", params={"limit": 100}).json()["data"]
    corrupt_epub = b"PK\x03\x04" + b"\x00garbage" * 20
    cases = [
        (_upload(client, b""), 400),
        (_upload(client, b"   \n\n  "), 400),
        (_upload(client, b"\x00\x01\x02binary" * 10, filename="x.bin"), 400),
        (_upload(client, corrupt_epub, filename="book.epub"), 422),
        (_upload(client, b"x" * 10_000), 413),
        (_upload(client, b"Hello.", voice="nobody"), 404),
        (_upload(client, b"Hello.", model="nothing"), 404),
        (_upload(client, b"Hello.", response_format="ogg-vorbis"), 400),
        (_upload(client, b"Hello.", options='{"sleep_ms": -1}'), 400),
        (_upload(client, b"Hello.", options="not json"), 400),
        (_upload(client, b"Hello.", webhook_url="ftp://x"), 400),
        (client.post("/v1/projects", data={"voice": "fake-tone"},
                     files={"other": ("a.txt", b"Hi.", "text/plain")}), 400),
        (client.post("/v1/projects", content=b"Hi.", headers={"content-type": "text/plain"}),
         400),
        (client.post("/v1/projects", json={"text": ""}), 400),
        (client.post("/v1/projects", json={"text": "Hi.", "bogus": 1}), 400),
        (client.post("/v1/projects", json={"text": "x" * 5000}), 413),
        (client.post("/v1/projects", content=b"{", headers={"content-type": "application/json"}),
         400),
    ]
    for response, status in cases:
        _assert_error(response, status)
    assert client.get("/v1/projects", params={"limit": 100}).json()["data"] == before
    _assert_error(client.get("/v1/projects/nope"), 404)
    _assert_error(client.get("/v1/projects/nope/manifest.json"), 404)


def test_cancel_stops_work_and_delete_removes_everything(client: TestClient) -> None:
    text = " ".join(f"Sentence number {n} is here." for n in range(30))
    created = _upload(client, text.encode(), options=json.dumps({"sleep_ms": 50}))
    project_id = created.json()["id"]
    _assert_error(client.get(f"/v1/projects/{project_id}/manifest.json"), 409)
    canceled = client.post(f"/v1/projects/{project_id}/cancel")
    assert canceled.status_code == 200 and canceled.json()["state"] == "canceled"
    time.sleep(0.3)
    done = client.get(f"/v1/projects/{project_id}").json()["progress"]["segments_done"]
    time.sleep(0.3)
    assert client.get(f"/v1/projects/{project_id}").json()["progress"]["segments_done"] == done
    assert done < 30
    with client.stream("GET", f"/v1/projects/{project_id}/events") as events:
        assert "event: canceled" in events.read().decode()
    assert client.delete(f"/v1/projects/{project_id}").status_code == 204
    _assert_error(client.get(f"/v1/projects/{project_id}"), 404)
    _assert_error(client.delete(f"/v1/projects/{project_id}"), 404)


def test_a_chapter_is_downloadable_as_soon_as_it_is_converted(client: TestClient) -> None:
    """Chapter 1 (one sentence) is ready long before chapter 2 (40 slow sentences): its
    audio and subtitles download while the project runs; chapter 2's and the book's not."""
    long_chapter = " ".join(f"Slow sentence {n} goes here." for n in range(40))
    text = f"# First\n\nA short opening.\n\n# Second\n\n{long_chapter}\n"
    created = _upload(client, text.encode(), filename="two.md",
                      options=json.dumps({"sleep_ms": 60}))
    assert created.status_code == 201, created.text
    project_id = created.json()["id"]
    base = f"/v1/projects/{project_id}"
    deadline = time.monotonic() + 30
    while True:
        body = client.get(base).json()
        chapters = body["progress"]["chapters"]
        if chapters[0]["ready"]:
            break
        assert time.monotonic() < deadline, body
        time.sleep(0.02)
    assert body["state"] == "running" and not chapters[1]["ready"], body
    audio = client.get(f"{base}/chapters/0/audio")
    assert audio.status_code == 200, audio.text
    assert audio.headers["content-type"].startswith("audio/wav")
    samples, rate = decode_audio(audio.content)
    # progress counts synthesized speech (the spoken title and the sentence); the chapter
    # file adds the paragraph pause after the title
    assert samples.size / rate == pytest.approx(chapters[0]["audio_seconds"] + 0.6, abs=0.05)
    vtt = client.get(f"{base}/subtitles.vtt", params={"chapter": 0})
    assert vtt.status_code == 200 and "A short opening." in vtt.text
    # the rest is not there yet: 409, and nothing half-written is served
    _assert_error(client.get(f"{base}/chapters/1/audio"), 409)
    _assert_error(client.get(f"{base}/subtitles.srt", params={"chapter": 1}), 409)
    _assert_error(client.get(f"{base}/audio"), 409)
    _assert_error(client.get(f"{base}/chapters/2/audio"), 404)
    done = _wait_state(client, project_id)
    assert done["state"] == "completed" and all(c["ready"] for c in done["progress"]["chapters"])
    # the early download is the chapter file of the finished project, byte for byte
    assert client.get(f"{base}/chapters/0/audio").content == audio.content
    assert client.get(f"{base}/chapters/1/audio").status_code == 200


def test_events_stream_progress_then_completed(client: TestClient) -> None:
    text = " ".join(f"Part {n} of the stream." for n in range(6))
    project_id = _upload(client, text.encode(), options=json.dumps({"sleep_ms": 150})).json()["id"]
    with client.stream("GET", f"/v1/projects/{project_id}/events") as events:
        body = events.read().decode()
    kinds = [line.split(": ", 1)[1] for line in body.splitlines() if line.startswith("event:")]
    assert kinds[-1] == "completed" and "progress" in kinds
    states = [json.loads(line[6:])["state"] for line in body.splitlines()
              if line.startswith("data:") and '"state"' in line and '"id"' not in line]
    assert states[-1] == "running" and len(states) == len(set(states)), states  # on change
    progress = [json.loads(line[6:]) for line in body.splitlines()
                if line.startswith("data:") and '"chapters"' in line and '"id"' not in line]
    done = [p["segments_done"] for p in progress]
    assert done == sorted(done)


def test_pagination_newest_first(client: TestClient) -> None:
    ids = [_upload(client, f"Page test {n}.".encode()).json()["id"] for n in range(3)]
    first = client.get("/v1/projects", params={"limit": 2}).json()
    assert [p["id"] for p in first["data"]] == ids[::-1][:2] and first["has_more"]
    second = client.get("/v1/projects", params={"limit": 2, "after": first["next_cursor"]})
    assert second.json()["data"][0]["id"] == ids[0]
    _assert_error(client.get("/v1/projects", params={"limit": 0}), 400)


def test_the_list_shows_chapters_and_progress_like_the_detail_view(
    client: TestClient,
) -> None:
    """Issue 23: the list said ``chapters: 0`` and ``progress: null`` for every project."""
    project_id = _upload(client, BOOK_MD.encode()).json()["id"]
    _wait_state(client, project_id)
    listed = next(p for p in client.get("/v1/projects", params={"limit": 100}).json()["data"]
                  if p["id"] == project_id)
    detail = client.get(f"/v1/projects/{project_id}").json()
    assert listed["chapters"] == detail["chapters"] == 2
    assert listed["progress"] == {**detail["progress"], "eta_seconds": None}
    # each chapter's spoken title, then its sentences
    assert [c["segments_done"] for c in listed["progress"]["chapters"]] == [4, 3]


def test_failing_segment_fails_the_project(client: TestClient) -> None:
    created = _upload(client, b"This one works. This one will explode.",
                      options=json.dumps({"fail_on": "explode"}))
    done = _wait_state(client, created.json()["id"])
    assert done["state"] == "failed" and "explode" in done["error"]
    _assert_error(client.post(f"/v1/projects/{done['id']}/cancel"), 409)


def test_restart_resumes_unfinished_projects(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, engines=["fake"], default_model="fake")
    upgrade_database(settings.resolved_database_url)
    repository = JobRepository(settings.resolved_database_url)
    project = repository.create_project(new_project())
    # segment 0 was done before the "crash"
    key = segment_key(project.id, 0)
    pcm = (tone_for("One sentence here.") * 32767).astype("<i2").tobytes()
    (tmp_path / "artifacts" / key).parent.mkdir(parents=True)
    (tmp_path / "artifacts" / key).write_bytes(pcm)
    repository.record_segment(project.id, 0, key, len(pcm) / 2 / 16000)
    repository.close()
    with TestClient(create_app(settings)) as client:
        wait_ready(client)
        done = _wait_state(client, project.id)
        assert done["state"] == "completed", done
        vtt = client.get(f"/v1/projects/{project.id}/subtitles.vtt").text
        assert vtt.count("-->") == 5


def test_a_long_chapter_is_converted_in_parts(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, engines=["fake"], default_model="fake",
                        max_chapter_segments=4)
    sentences = " ".join(f"Sentence number {n} of ten." for n in range(1, 11))
    with TestClient(create_app(settings)) as client:
        wait_ready(client)
        created = client.post("/v1/projects", json={
            "text": f"# Only chapter\n\n{sentences}\n", "markdown": True, **FAKE})
        assert created.status_code == 201, created.text
        done = _wait_state(client, created.json()["id"])
        assert done["state"] == "completed", done
        chapters = done["progress"]["chapters"]
        assert [c["title"] for c in chapters] == [
            f"Only chapter (part {n} of 3)" for n in (1, 2, 3)]
        assert [c["segments_total"] for c in chapters] == [4, 4, 3]  # the title is spoken
        manifest = client.get(f"/v1/projects/{done['id']}/manifest.json").json()
        assert len(manifest["chapters"]) == 3
        vtt = client.get(f"/v1/projects/{done['id']}/subtitles.vtt").text
        assert vtt.count("-->") == 11  # the title and every sentence, once, in the book


def test_subtitles_and_manifest_keep_the_users_words(client: TestClient) -> None:
    text = "Dr. Smith paid $25.50 at 6:45 PM.\n\nHe left on May 3rd."
    created = client.post("/v1/projects", json={
        "text": text, "model": "piper", "voice": "joe", "response_format": "wav"})
    assert created.status_code == 201, created.text
    done = _wait_state(client, created.json()["id"])
    assert done["state"] == "completed", done
    base = f"/v1/projects/{done['id']}"
    vtt = client.get(f"{base}/subtitles.vtt").text
    srt = client.get(f"{base}/subtitles.srt").text
    for subtitles in (vtt, srt):
        lines = [line for line in subtitles.splitlines()
                 if line and "-->" not in line and not line.isdigit() and line != "WEBVTT"]
        assert " ".join(lines) == "Dr. Smith paid $25.50 at 6:45 PM. He left on May 3rd."
    cues = [cue for chapter in client.get(f"{base}/manifest.json").json()["chapters"]
            for cue in chapter["cues"]]
    assert [cue["text"] for cue in cues] == [
        "Dr. Smith paid $25.50 at 6:45 PM.", "He left on May 3rd."]
    assert cues[0]["spoken"] == (
        "Doctor Smith paid twenty-five dollars and fifty cents at six forty-five PM.")
