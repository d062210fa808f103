"""The admin API for model versions, in-process: actions, errors in the one shape, the admin
scope, and requests in flight while the model swaps (no 5xx, each on one whole version)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api_tools import wait_ready
from tests.models_tools import joe_version_dir
from voxserve.api.app import create_app
from voxserve.security.api_keys import ApiKeyStore
from voxserve.settings import Settings

LONG_TEXT = " ".join(f"This is sentence number {n} of a long answer." for n in range(1, 25))



@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return joe_version_dir(tmp_path_factory.mktemp("sources"))


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("data"), engines=["piper", "fake"],
                        engine_replicas=2)
    with TestClient(create_app(settings)) as test_client:
        wait_ready(test_client)
        yield test_client


def _error(response: Any, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == code
    message: str = body["error"]["message"]
    return message


def _model(client: TestClient, name: str) -> dict[str, Any]:
    response = client.get(f"/v1/admin/models/{name}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _states(client: TestClient, name: str) -> dict[str, tuple[str, int]]:
    return {row["version"]: (row["state"], row["requests"])
            for row in _model(client, name)["versions"]}


def test_import_activate_rollback_remove(client: TestClient, source: Path) -> None:
    imported = client.post("/v1/admin/models/import",
                           json={"path": str(source), "model": "amy", "engine": "piper"})
    assert imported.status_code == 201, imported.text
    assert imported.json()["imported_version"] == "1"
    assert imported.json()["active_version"] == "1" and imported.json()["ready"]
    second = client.post("/v1/admin/models/import",
                         json={"path": str(source), "model": "amy", "engine": "piper"})
    assert second.json()["imported_version"] == "2"
    assert _states(client, "amy") == {"1": ("loaded", 0), "2": ("unloaded", 0)}
    speech = client.post("/v1/audio/speech", json={"input": "Hi.", "voice": "amy",
                                                   "response_format": "wav"})
    assert speech.status_code == 200, speech.text
    assert speech.headers["x-voxserve-voice"] == "amy@1"
    activated = client.post("/v1/admin/models/amy/activate", json={"version": "2"})
    assert activated.status_code == 200 and activated.json()["active_version"] == "2"
    assert _states(client, "amy") == {"1": ("unloaded", 0), "2": ("loaded", 0)}
    speech = client.post("/v1/audio/speech", json={"input": "Hi.", "voice": "amy",
                                                   "response_format": "wav"})
    assert speech.headers["x-voxserve-voice"] == "amy@2"
    pinned = client.post("/v1/audio/speech", json={"input": "Hi.", "voice": "amy@1",
                                                   "response_format": "wav"})
    assert pinned.status_code == 200 and pinned.headers["x-voxserve-voice"] == "amy@1"
    assert client.post("/v1/admin/models/amy/rollback").json()["active_version"] == "1"
    assert client.post("/v1/admin/models/amy/versions/2/unload").json()["state"] == "unloaded"
    assert client.post("/v1/admin/models/amy/versions/2/load").json()["state"] == "loaded"
    assert client.delete("/v1/admin/models/amy/versions/2").status_code == 204
    assert list(_states(client, "amy")) == ["1"]
    listing = client.get("/v1/admin/models").json()["data"]
    joe = next(model for model in listing if model["id"] == "en_US-joe-medium")
    assert joe["versions"][0]["version"] == "bundled" and joe["versions"][0]["read_only"]
    assert joe["engine"] == "piper" and joe["ready"] and joe["active_version"] == "bundled"
    assert {"amy", "en_US-joe-medium"} <= {model["id"] for model in listing}
    assert client.post("/v1/admin/models/sync").json() == {"changed": []}


def test_bad_input_is_a_clear_4xx(client: TestClient, source: Path, tmp_path: Path) -> None:
    client.post("/v1/admin/models/import",
                json={"path": str(source), "model": "bea", "engine": "piper"})
    before = _states(client, "bea")
    _error(client.post("/v1/admin/models/import", json={"path": "relative/dir"}),
           422, "invalid_model")
    _error(client.post("/v1/admin/models/import", json={"path": str(tmp_path / "none")}),
           422, "invalid_model")
    _error(client.post("/v1/admin/models/import",
                       json={"path": str(source), "model": "bea"}), 422, "invalid_model")
    _error(client.post("/v1/admin/models/import",
                       json={"path": str(source), "model": "bea", "engine": "nope"}),
           422, "invalid_model")
    _error(client.post("/v1/admin/models/import",
                       json={"path": str(source), "model": "../bea", "engine": "piper"}),
           422, "invalid_model")
    _error(client.post("/v1/admin/models/import", json={
        "path": str(source), "model": "bea", "version": "1", "engine": "piper"}),
        409, "model_conflict")
    _error(client.post("/v1/admin/models/import", json={"path": str(source), "x": 1}),
           400, "unknown_parameter")
    _error(client.get("/v1/admin/models/nobody"), 404, "model_version_not_found")
    _error(client.post("/v1/admin/models/bea/activate", json={"version": "9"}),
           404, "model_version_not_found")
    _error(client.post("/v1/admin/models/bea/rollback"), 409, "model_conflict")
    _error(client.delete("/v1/admin/models/bea/versions/1"), 409, "model_conflict")
    _error(client.post("/v1/admin/models/en_US-joe-medium/versions/bundled/unload"),
           409, "model_conflict")
    assert _states(client, "bea") == before
    assert client.get("/readyz").status_code == 200


def test_requests_in_flight_finish_on_their_version(client: TestClient, source: Path) -> None:
    client.post("/v1/admin/models/import",
                json={"path": str(source), "model": "cal", "engine": "piper"})
    client.post("/v1/admin/models/import",
                json={"path": str(source), "model": "cal", "engine": "piper"})
    results: list[Any] = []

    def long_request() -> None:
        results.append(client.post("/v1/audio/speech", json={
            "input": LONG_TEXT, "voice": "cal", "response_format": "pcm"}))

    runner = threading.Thread(target=long_request)
    runner.start()
    deadline = time.monotonic() + 30
    while _states(client, "cal")["1"][1] == 0:  # wait until the request holds version 1
        assert time.monotonic() < deadline and runner.is_alive(), "request never started"
        time.sleep(0.01)
    assert client.post("/v1/admin/models/cal/activate", json={"version": "2"}).status_code == 200
    states = _states(client, "cal")
    if runner.is_alive():  # (it is, on this machine: 24 sentences take seconds)
        assert states["1"] == ("draining", 1)
    runner.join(60)
    response = results[0]
    assert response.status_code == 200
    assert response.headers["x-voxserve-voice"] == "cal@1"
    assert len(response.content) / 2 / 24_000 > 10.0  # all of it: 24 sentences of audio
    assert _states(client, "cal") == {"1": ("unloaded", 0), "2": ("loaded", 0)}


def test_swaps_under_traffic_no_5xx(client: TestClient, source: Path) -> None:
    for _ in range(2):
        client.post("/v1/admin/models/import",
                    json={"path": str(source), "model": "dan", "engine": "piper"})
    stop = threading.Event()
    ready_codes: list[int] = []

    def speak(index: int) -> tuple[int, str, int]:
        response = client.post("/v1/audio/speech", json={
            "input": f"Request {index}. It keeps talking for a while.", "voice": "dan",
            "response_format": "wav"})
        return response.status_code, response.headers.get("x-voxserve-voice", ""), len(
            response.content)

    def probe() -> None:
        while not stop.is_set():
            ready_codes.append(client.get("/readyz").status_code)
            time.sleep(0.05)

    prober = threading.Thread(target=probe)
    prober.start()
    with ThreadPoolExecutor(max_workers=6) as pool:
        futures = [pool.submit(speak, index) for index in range(24)]
        for version in ("2", "1", "2", "1"):
            swap = client.post("/v1/admin/models/dan/activate", json={"version": version})
            assert swap.status_code == 200, swap.text
        results = [future.result(timeout=120) for future in futures]
    stop.set()
    prober.join()
    assert all(status == 200 for status, _, _ in results), results
    assert {voice for _, voice, _ in results} <= {"dan@1", "dan@2"}
    assert all(size > 44 for _, _, size in results)
    assert ready_codes and set(ready_codes) == {200}
    assert _states(client, "dan") == {"1": ("loaded", 0), "2": ("unloaded", 0)}


def test_admin_scope_is_required(tmp_path: Path) -> None:
    store = ApiKeyStore(tmp_path / "api_keys.json")
    _, speech_key = store.create("svc", ["speech"])
    _, admin_key = store.create("ops", ["admin"])
    settings = Settings(data_dir=tmp_path, auth="api_key", engines=["fake"],
                        default_model="fake", default_voice="fake-tone")
    with TestClient(create_app(settings)) as client:
        wait_ready(client)
        assert client.get("/v1/admin/models").status_code == 401
        refused = client.get("/v1/admin/models",
                             headers={"Authorization": f"Bearer {speech_key}"})
        assert refused.status_code == 403
        allowed = client.get("/v1/admin/models",
                             headers={"Authorization": f"Bearer {admin_key}"})
        assert allowed.status_code == 200 and allowed.json()["object"] == "list"


def test_voices_show_versions_aliases_and_a_cached_preview(
    client: TestClient, source: Path
) -> None:
    client.post("/v1/admin/models/import", json={"path": str(source), "model": "eli",
                                                 "engine": "piper"})
    client.post("/v1/admin/models/import", json={"path": str(source), "model": "eli",
                                                 "engine": "piper"})
    voices = {voice["id"]: voice for voice in client.get("/v1/voices").json()["data"]}
    eli = voices["eli"]
    assert (eli["version"], eli["versions"]) == ("1", ["1", "2"])
    assert eli["language"] == "en_US" and eli["preview_url"] == "/v1/voices/eli/preview"
    joe = voices["en_US-joe-medium"]
    assert "joe" in joe["aliases"] and "alloy" in joe["openai_voices"]
    previews = client.app.state.previews  # type: ignore[attr-defined]
    first = client.get("/v1/voices/eli/preview")
    assert first.status_code == 200 and first.headers["content-type"] == "audio/mpeg"
    assert first.headers["x-voxserve-voice"] == "eli@1" and len(first.content) > 1000
    held = previews.cached()
    again = client.get("/v1/voices/eli/preview")
    assert again.content == first.content and previews.cached() == held  # not synthesized
    client.post("/v1/admin/models/eli/activate", json={"version": "2"})
    swapped = client.get("/v1/voices/eli/preview")
    assert swapped.headers["x-voxserve-voice"] == "eli@2" and previews.cached() == held + 1
    wav = client.get("/v1/voices/alloy/preview", params={"format": "wav"})
    assert wav.status_code == 200 and wav.content[:4] == b"RIFF"
    _error(client.get("/v1/voices/nobody/preview"), 404, "voice_not_found")
    _error(client.get("/v1/voices/eli/preview", params={"format": "xyz"}), 400,
           "invalid_value")


def test_a_project_keeps_its_version_through_a_swap(client: TestClient, source: Path) -> None:
    for _ in range(2):
        client.post("/v1/admin/models/import",
                    json={"path": str(source), "model": "fin", "engine": "piper"})
    text = "\n\n".join(f"Paragraph {n}. It has a sentence or two. Then it ends." for n in range(6))
    created = client.post("/v1/projects", json={"text": text, "voice": "fin",
                                                "response_format": "wav"})
    assert created.status_code == 201, created.text
    assert created.json()["voice"] == "fin@1"  # pinned: one voice for the whole book
    assert client.post("/v1/admin/models/fin/activate", json={"version": "2"}).status_code == 200
    deadline = time.monotonic() + 120
    while (body := client.get(f"/v1/projects/{created.json()['id']}").json())["state"] not in (
            "completed", "failed"):
        assert time.monotonic() < deadline, body
        time.sleep(0.1)
    assert body["state"] == "completed", body
    assert _states(client, "fin")["2"] == ("loaded", 0)
