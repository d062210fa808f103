"""``/v1/audio/speech/stream`` over a real socket with the ``websockets`` client: an LLM-like
stream is heard as it arrives, split words and numbers, flush, a slow reader, hostile
clients, disconnects; every connection holds the only stream slot, so one that leaked would
make the next test fail with 4429."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import uvicorn
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.asr import harvard_sentences, transcribe, word_error_rate
from tests.audio_tools import longest_quiet_s, pcm_to_float
from tests.conftest import free_port, wait_ready
from voxserve.api.app import create_app
from voxserve.engines.fake import FakeEngine
from voxserve.settings import Settings


@dataclass
class LiveServer:
    url: str
    fake: FakeEngine


@pytest.fixture(scope="module")
def live(settings: Settings) -> Iterator[LiveServer]:
    app = create_app(settings.model_copy(update={
        "cache_url": "none", "rate_limit_concurrent_streams": 1, "ws_send_timeout_s": 3.0,
        "ws_max_messages_per_s": 500, "ws_stall_s": 0.3, "ws_max_message_bytes": 16_384,
        "ws_max_pending_pieces": 2}))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_ready(f"http://127.0.0.1:{port}", None, timeout_s=60)
    fake = app.state.catalog.engine("fake")
    assert isinstance(fake, FakeEngine)
    yield LiveServer(f"ws://127.0.0.1:{port}/v1/audio/speech/stream", fake)
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def lm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lm")


def open_stream(live: LiveServer, **config: Any) -> tuple[ClientConnection, dict[str, Any]]:
    ws = connect(live.url, open_timeout=10, close_timeout=5)
    ws.send(json.dumps({"type": "config", **config}))
    ready = json.loads(ws.recv(timeout=30))
    assert ready["type"] == "ready", ready
    return ws, ready


def receive_all(ws: ClientConnection) -> tuple[bytes, list[dict[str, Any]]]:
    """Audio and messages until the server closes."""
    audio, messages = bytearray(), []
    try:
        while True:
            frame = ws.recv(timeout=60)
            if isinstance(frame, bytes):
                audio += frame
            else:
                messages.append(json.loads(frame))
    except ConnectionClosed:
        pass
    return bytes(audio), messages


def test_an_llm_like_stream_is_heard_as_it_arrives(live: LiveServer, lm_dir: Path) -> None:
    sentences = harvard_sentences()[:3]
    text = " ".join(sentences)
    ws, ready = open_stream(live, model="piper", voice="joe", response_format="pcm")
    first_audio_at: list[float] = []
    sent_all_at: list[float] = []

    def send() -> None:
        rest, size = text, 1
        while rest:
            ws.send(json.dumps({"type": "text", "text": rest[:size]}))
            rest, size = rest[size:], size % 4 + 1  # 1-4 characters every 20 ms
            time.sleep(0.02)
        sent_all_at.append(time.monotonic())
        ws.send(json.dumps({"type": "close"}))

    sender = threading.Thread(target=send)
    sender.start()
    audio = bytearray()
    messages: list[dict[str, Any]] = []
    try:
        while True:
            frame = ws.recv(timeout=60)
            if isinstance(frame, bytes):
                first_audio_at[:] = first_audio_at or [time.monotonic()]
                audio += frame
            else:
                messages.append(json.loads(frame))
    except ConnectionClosed:
        pass
    sender.join()
    assert ws.close_code == 1000
    assert first_audio_at[0] < sent_all_at[0]  # the first sentence played before the end
    assert [m["text"] for m in messages if m["type"] == "segment"] == sentences
    done = messages[-1]
    assert done["type"] == "done"
    assert done["usage"]["input_characters"] == sum(len(s) for s in sentences)
    samples = pcm_to_float(bytes(audio))
    rate = ready["sample_rate"]
    assert done["usage"]["output_audio_seconds"] == pytest.approx(len(samples) / rate, abs=0.01)
    # the sentences do not run into each other: the usual pause between sentences
    assert longest_quiet_s(samples, rate) >= 0.15
    assert word_error_rate([(text, transcribe(samples, rate, lm_dir))]) <= 0.25


def test_fragments_that_split_words_and_numbers(live: LiveServer) -> None:
    ws, _ = open_stream(live, model="fake", audio="base64")
    for fragment in ["It co", "sts $2", "5", ".", "5", "0 to", "day", ". Tw", "enty", " one"]:
        ws.send(json.dumps({"type": "text", "text": fragment}))
    ws.send(json.dumps({"type": "close"}))
    _, messages = receive_all(ws)
    assert [m["text"] for m in messages if m["type"] == "segment"] == [
        "It costs $25.50 today.", "Twenty one"]
    assert any(m["type"] == "audio" and m["audio"] for m in messages)
    assert ws.close_code == 1000


def test_word_timestamps_cover_every_word_inside_the_audio(
    live: LiveServer, settings: Settings
) -> None:
    ws, ready = open_stream(live, model="fake", timestamps="word")
    ws.send(json.dumps({"type": "text", "text": "One two three. Four five, six seven."}))
    ws.send(json.dumps({"type": "close"}))
    audio, messages = receive_all(ws)
    alignments = [m for m in messages if m["type"] == "alignment"]
    assert [w["word"] for m in alignments for w in m["words"]] == [
        "One", "two", "three.", "Four", "five,", "six", "seven."]
    assert all(m["estimated"] is True for m in alignments)
    duration_s = len(audio) / 2 / ready["sample_rate"]
    previous = 0.0
    for word in (w for m in alignments for w in m["words"]):
        assert previous <= word["start"] < word["end"] <= duration_s + 0.002
        previous = word["start"]
    # the second piece's words come after the audio sent before it and its pause
    second = alignments[1]["words"][0]["start"]
    first_segment = next(m for m in messages if m["type"] == "segment")
    assert second >= first_segment["audio_seconds"] + 0.8 * settings.sentence_silence_ms / 1000


def test_piper_word_timestamps_are_aligned_and_sit_on_the_speech(live: LiveServer) -> None:
    """Issue 21: the engine's alignment, not an estimate; offset by the audio before each
    piece (and its pause): every word is on loud audio, "$25.50" is one word."""
    ws, ready = open_stream(live, model="piper", timestamps="word")
    ws.send(json.dumps({"type": "text", "text": "It costs $25.50 today. Please pay soon."}))
    ws.send(json.dumps({"type": "close"}))
    audio, messages = receive_all(ws)
    alignments = [m for m in messages if m["type"] == "alignment"]
    words = [w for m in alignments for w in m["words"]]
    assert [w["word"] for w in words] == ["It", "costs", "$25.50", "today.", "Please", "pay",
                                          "soon."]
    assert not any(m["estimated"] or any(w["estimated"] for w in m["words"])
                   for m in alignments)
    samples = pcm_to_float(audio)
    rate = ready["sample_rate"]
    previous = 0.0
    for word in words:
        assert previous <= word["start"] < word["end"] <= len(samples) / rate + 0.002
        part = samples[int(word["start"] * rate):int(word["end"] * rate)]
        assert float(np.sqrt(np.mean(part ** 2))) > 0.02, word
        previous = word["start"]


def test_flush_speaks_an_unfinished_sentence_at_once(live: LiveServer) -> None:
    ws, _ = open_stream(live, model="fake")
    ws.send(json.dumps({"type": "text", "text": "no end in sight yet"}))
    ws.send(json.dumps({"type": "flush"}))
    audio = ws.recv(timeout=10)
    assert isinstance(audio, bytes) and audio
    while not isinstance(frame := ws.recv(timeout=10), str):
        pass
    segment = json.loads(frame)
    assert segment == {"type": "segment", "text": "no end in sight yet",
                       "audio_seconds": segment["audio_seconds"]}
    ws.send(json.dumps({"type": "close"}))
    _, messages = receive_all(ws)
    assert messages[-1]["type"] == "done" and ws.close_code == 1000


def test_a_stall_speaks_the_clause_so_far(live: LiveServer) -> None:
    ws, _ = open_stream(live, model="fake")
    ws.send(json.dumps({"type": "text", "text": "Well, let me"}))
    while not isinstance(frame := ws.recv(timeout=10), str):
        pass
    assert json.loads(frame)["text"] == "Well,"  # after ws_stall_s, without more text
    ws.send(json.dumps({"type": "close"}))
    _, messages = receive_all(ws)
    assert [m["text"] for m in messages if m["type"] == "segment"] == ["let me"]


def test_a_slow_reader_is_paused_then_closed(live: LiveServer) -> None:
    live.fake.segments_synthesized.clear()
    sentences = [f"Sentence number {i} is here to make a lot of audio." for i in range(300)]
    ws, _ = open_stream(live, model="fake", sample_rate=48000)
    for start in range(0, len(sentences), 20):
        ws.send(json.dumps({"type": "text", "text": " ".join(sentences[start:start + 20])
                            + " "}))
    ws.send(json.dumps({"type": "close"}))
    time.sleep(5)  # read nothing: the server's sends block, then time out
    synthesized = len(live.fake.segments_synthesized)
    assert 0 < synthesized < len(sentences) // 2  # paused, not synthesized and buffered
    receive_all(ws)
    assert ws.close_code == 1008
    assert "does not read" in (ws.close_reason or "")


@pytest.mark.parametrize(("send", "code", "error_code"), [
    ("x" * 20_000, 1009, "invalid_message"),
    ("{not json", 1007, "invalid_message"),
    (b"\x00\x01binary", 1003, "invalid_message"),
    (json.dumps({"type": "text"}), 4400, "invalid_request"),
    (json.dumps({"type": "shout", "text": "hi"}), 4400, "invalid_request"),
])
def test_hostile_messages_close_the_connection(
    live: LiveServer, send: str | bytes, code: int, error_code: str
) -> None:
    ws, _ = open_stream(live, model="fake")
    ws.send(send)
    _, messages = receive_all(ws)
    assert ws.close_code == code
    assert messages[-1]["type"] == "error"
    assert messages[-1]["error"]["code"] == error_code


def test_bad_config_and_ten_thousand_tiny_messages(live: LiveServer) -> None:
    ws = connect(live.url, open_timeout=10)
    ws.send(json.dumps({"type": "config", "voice": "nobody"}))
    _, messages = receive_all(ws)
    assert ws.close_code == 4404 and messages[-1]["error"]["param"] == "voice"

    ws, _ = open_stream(live, model="fake")
    with pytest.raises(ConnectionClosed):
        for _ in range(10_000):
            ws.send('{"type":"text","text":"a"}')
    receive_all(ws)
    assert ws.close_code == 1008 and "messages per second" in (ws.close_reason or "")


def test_the_concurrency_limit_applies_and_disconnect_stops_synthesis(live: LiveServer) -> None:
    release = threading.Event()
    live.fake.segments_synthesized.clear()
    live.fake.before_segment = lambda text: None if not text.startswith("Second") else (
        release.wait(timeout=20) and None)
    try:
        ws, _ = open_stream(live, model="fake")
        ws.send(json.dumps({"type": "text", "text": "First one. Second one. Third one. "}))
        assert isinstance(ws.recv(timeout=10), bytes)
        other = connect(live.url, open_timeout=10)
        other.send(json.dumps({"type": "config", "model": "fake"}))
        _, messages = receive_all(other)
        assert other.close_code == 4429 and messages[-1]["error"]["type"] == "rate_limit_error"
        ws.close()  # goes away while "Second" is being synthesized
        release.set()
        time.sleep(0.5)
        assert "Third one." not in live.fake.segments_synthesized
    finally:
        live.fake.before_segment = None
    ws, _ = open_stream(live, model="fake")  # the slot was released
    ws.send(json.dumps({"type": "close"}))
    _, messages = receive_all(ws)
    assert messages[-1] == {"type": "done", "usage": {"input_characters": 0,
                                                     "output_audio_seconds": 0.0}}
