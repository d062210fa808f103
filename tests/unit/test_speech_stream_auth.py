"""WebSocket auth (header, or a first-message token for browsers), origins, close codes."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from voxserve import errors
from voxserve.api.app import create_app
from voxserve.api.ws_errors import close_for
from voxserve.security.api_keys import ApiKeyStore
from voxserve.settings import Settings

PATH = "/v1/audio/speech/stream"


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, str, str]]:
    data_dir: Path = tmp_path_factory.mktemp("ws-auth")
    store = ApiKeyStore(data_dir / "api_keys.json")
    _, speech_key = store.create("svc", ["speech"])
    _, projects_key = store.create("ops", ["projects"])
    settings = Settings(data_dir=data_dir, engines=["fake"], default_model="fake",
                        auth="api_key", api_keys_file=data_dir / "api_keys.json")
    with TestClient(create_app(settings)) as client:
        deadline = time.monotonic() + 30
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        yield client, speech_key, projects_key


def first_answer(client: TestClient, config: dict[str, Any],
                 headers: dict[str, str] | None = None) -> tuple[dict[str, Any], int | None]:
    """The first message and, when the server closed, its close code."""
    with client.websocket_connect(PATH, headers=headers or {}) as ws:
        ws.send_text(json.dumps({"type": "config", **config}))
        message = ws.receive_json()
        if message["type"] == "ready":
            ws.send_text(json.dumps({"type": "close"}))
            assert ws.receive_json()["type"] == "done"
            return message, None
        try:
            ws.receive_text()
        except WebSocketDisconnect as closed:
            return message, closed.code
    raise AssertionError("not closed")


def test_no_credential_is_4401(keyed: tuple[TestClient, str, str]) -> None:
    client, _, _ = keyed
    message, code = first_answer(client, {})
    assert code == 4401 and message["error"]["type"] == "invalid_request_error"


def test_a_header_or_a_first_message_token(keyed: tuple[TestClient, str, str]) -> None:
    client, key, _ = keyed
    ready, _ = first_answer(client, {}, {"Authorization": f"Bearer {key}"})
    assert ready["type"] == "ready" and ready["model"] == "fake"
    ready, _ = first_answer(client, {"token": key})  # browsers cannot send headers
    assert ready["type"] == "ready"
    message, code = first_answer(client, {"token": "vx-wrong"})
    assert code == 4401, message


def test_a_key_without_the_speech_scope_is_4403(keyed: tuple[TestClient, str, str]) -> None:
    client, _, other = keyed
    message, code = first_answer(client, {"token": other})
    assert code == 4403 and message["error"]["code"] == "insufficient_scope"


def test_a_foreign_origin_is_refused(keyed: tuple[TestClient, str, str]) -> None:
    client, key, _ = keyed
    message, code = first_answer(client, {"token": key},
                                 {"Origin": "https://evil.example"})
    assert code == 1008 and "origin" in message["error"]["message"]
    ready, _ = first_answer(client, {"token": key}, {"Origin": "http://testserver"})
    assert ready["type"] == "ready"


def test_close_codes_follow_the_http_statuses() -> None:
    assert close_for(errors.VoiceNotFound("no", param="voice"))[0] == 4404
    assert close_for(errors.Overloaded("busy", retry_after_s=3))[0] == 4503
    assert close_for(errors.Overloaded("busy", retry_after_s=3))[2]["retry_after_s"] == 3
    assert close_for(errors.DeadlineExceeded("late"))[0] == 4504
    assert close_for(errors.EngineFailed("boom"))[0] == 1011
    assert close_for(errors.ProtocolViolation("big", 1009))[0] == 1009
    code, reason, message = close_for(ValueError("secret detail"))
    assert code == 1011 and "secret" not in reason and "secret" not in json.dumps(message)
    assert len(close_for(errors.InvalidRequest("é" * 200))[1].encode()) <= 123


@pytest.fixture(scope="module")
def impatient(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("ws-idle"), engines=["fake"],
                        default_model="fake", ws_idle_timeout_s=0.3, ws_auth_timeout_s=0.3)
    with TestClient(create_app(settings)) as client:
        deadline = time.monotonic() + 30
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        yield client


def test_a_silent_client_is_closed(impatient: TestClient) -> None:
    with impatient.websocket_connect(PATH) as ws:  # never sends its config
        message = ws.receive_json()
        assert message["error"]["message"] == "no config message in time"
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
        assert closed.value.code == 1008
    with impatient.websocket_connect(PATH) as ws:
        ws.send_text(json.dumps({"type": "config"}))
        assert ws.receive_json()["type"] == "ready"
        ws.send_text(json.dumps({"type": "text", "text": "Said, then nothing"}))
        frames: list[Any] = []
        with pytest.raises(WebSocketDisconnect) as closed:
            while True:
                frames.append(ws.receive())
                if frames[-1]["type"] == "websocket.close":
                    raise WebSocketDisconnect(frames[-1]["code"])
        assert closed.value.code == 1008
        texts = [json.loads(f["text"]) for f in frames if f.get("text")]
        assert texts[-1]["error"]["message"] == "no message within the idle timeout"


def test_a_second_config_is_refused(impatient: TestClient) -> None:
    message, code = first_answer_after(impatient, [{"type": "config"}])
    assert code == 4400 and message["error"]["message"] == "config may only be sent once"


def first_answer_after(client: TestClient,
                       messages: list[dict[str, Any]]) -> tuple[dict[str, Any], int | None]:
    with client.websocket_connect(PATH) as ws:
        ws.send_text(json.dumps({"type": "config"}))
        assert ws.receive_json()["type"] == "ready"
        for message in messages:
            ws.send_text(json.dumps(message))
        answer = ws.receive_json()
        try:
            ws.receive_text()
        except WebSocketDisconnect as closed:
            return answer, closed.code
    raise AssertionError("not closed")


def test_a_conversation_is_in_flight_and_logged(
    keyed: tuple[TestClient, str, str], caplog: pytest.LogCaptureFixture
) -> None:
    """The drain waits for a running conversation (it counts as a request in flight), and
    it ends with one access line: close code, characters and audio, never the text."""
    client, speech_key, _ = keyed
    lifecycle = client.app.state.service_state  # type: ignore[attr-defined]
    before = lifecycle.in_flight
    caplog.set_level("INFO", logger="voxserve.access")
    with client.websocket_connect(PATH, headers={"Authorization": f"Bearer {speech_key}",
                                                 "X-Request-Id": "ws-log-1"}) as ws:
        ws.send_text(json.dumps({"type": "config", "response_format": "pcm"}))
        assert ws.receive_json()["type"] == "ready"
        assert lifecycle.in_flight == before + 1
        ws.send_text(json.dumps({"type": "text", "text": "A secret sentence."}))
        ws.send_text(json.dumps({"type": "close"}))
        while not isinstance(message := ws.receive(), dict) or message.get("text") is None \
                or json.loads(message["text"])["type"] != "done":
            pass
    deadline = time.monotonic() + 10
    while lifecycle.in_flight != before:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    lines = [r for r in caplog.records if getattr(r, "path", None) == PATH]
    assert len(lines) == 1
    line = lines[0]
    assert line.status == 1000 and line.characters == len("A secret sentence.")  # type: ignore[attr-defined]
    assert line.audio_s > 0  # type: ignore[attr-defined]
    assert "secret" not in line.getMessage()
