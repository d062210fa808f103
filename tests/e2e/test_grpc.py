"""The gRPC API on real ``voxserve serve`` processes with a real grpc client: streamed and
unary audio (pocketsphinx hears it), the catalog, every error status with its details,
deadlines, overload and rate limits shared with HTTP, auth on and off, health during drain,
reflection, TLS with the HTTP certificate."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from tests.asr import transcribe, word_error_rate
from tests.audio_tools import decode_audio, pcm_to_float
from tests.conftest import free_port
from tests.e2e.test_security_e2e import VOXSERVE
from tests.grpc_tools import (
    GrpcServer,
    error_info,
    health_status,
    request,
    retry_delay_s,
    start_server,
    trailing,
)
from tests.tls_tools import self_signed_certificate
from voxserve.engines.fake import tone_for
from voxserve.rpc.v1 import speech_pb2 as pb
from voxserve.rpc.v1 import speech_pb2_grpc

pytestmark = pytest.mark.e2e

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
SENTENCES = ["The birch canoe slid on the smooth planks.",
             "Glue the sheet to the dark blue background."]


@pytest.fixture(scope="module")
def piper(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GrpcServer]:
    """The real voice (and the fake engine), no auth, gRPC through ``--grpc-port``."""
    server = start_server(tmp_path_factory.mktemp("grpc-piper"), VOXSERVE_ENGINES="piper,fake",
                          VOXSERVE_DEFAULT_MODEL="piper")
    yield server
    server.stop()


def _stream(server: GrpcServer, req: pb.SynthesizeRequest,
            **kw: object) -> list[pb.AudioChunk]:
    kw.setdefault("timeout", 60)
    return list(server.stub().Synthesize(req, **kw))


def test_streamed_pcm_is_heard_with_sequence_spans_and_usage(
    piper: GrpcServer, tmp_path: Path
) -> None:
    text = " ".join(SENTENCES)
    chunks = _stream(piper, request(text, format=pb.AUDIO_FORMAT_PCM, sample_rate=16000))
    audio, last = chunks[:-1], chunks[-1]
    assert [c.sequence for c in chunks] == list(range(len(chunks)))
    assert all(c.sample_rate == 16000 and c.format == pb.AUDIO_FORMAT_PCM for c in chunks)
    assert all(c.audio_data for c in audio) and not last.audio_data
    assert last.HasField("usage") and not any(c.HasField("usage") for c in audio)
    samples = pcm_to_float(b"".join(c.audio_data for c in audio))
    seconds = len(samples) / 16000
    assert last.usage.output_audio_seconds == pytest.approx(seconds, abs=0.01)
    assert sum(c.duration_ms for c in audio) / 1000 == pytest.approx(seconds, abs=0.01)
    assert last.usage.input_characters == len(text) and last.usage.segments == 2
    assert last.usage.output_bytes == len(samples) * 2
    spans = [(c.span.segment_index, c.span.text) for c in audio]
    assert spans[0] == (0, SENTENCES[0]) and spans[-1] == (1, SENTENCES[1])
    assert all(c.span.segment_count == 2 for c in audio)
    heard = transcribe(samples, 16000, tmp_path)
    assert word_error_rate([(text, heard)]) <= 0.25, heard


def test_pcm_defaults_to_the_voice_rate(piper: GrpcServer) -> None:
    """Unlike the OpenAI route's 24 kHz, gRPC's pcm comes at the voice's own rate."""
    chunks = _stream(piper, request("Native rate.", format=pb.AUDIO_FORMAT_PCM))
    assert {c.sample_rate for c in chunks} == {22050}
    wav = piper.stub().SynthesizeUnary(request("Native rate.", format=pb.AUDIO_FORMAT_WAV),
                                       timeout=60)
    samples, rate = decode_audio(wav.audio_data)
    pcm = b"".join(c.audio_data for c in chunks)
    assert rate == 22050 and len(pcm) // 2 == len(samples)
    http = httpx.post(f"{piper.url}/v1/audio/speech", timeout=60,
                      json={"input": "Native rate.", "response_format": "pcm"})
    assert http.headers["x-voxserve-sample-rate"] == "24000"  # the HTTP route is unchanged


@pytest.mark.parametrize(("fmt", "container"), [
    (pb.AUDIO_FORMAT_MP3, "mp3"), (pb.AUDIO_FORMAT_OPUS, "ogg"), (pb.AUDIO_FORMAT_FLAC, "flac"),
    (pb.AUDIO_FORMAT_AAC, "aac"), (pb.AUDIO_FORMAT_WAV, "wav"),
])
def test_each_format_streams_and_decodes(piper: GrpcServer, fmt: int, container: str) -> None:
    chunks = _stream(piper, request(SENTENCES[0], format=fmt))  # type: ignore[arg-type]
    samples, _ = decode_audio(b"".join(c.audio_data for c in chunks), audio_format=container)
    assert len(samples) / 48000 > 1.0 or len(samples) / 22050 > 1.0


def test_unary_returns_the_whole_audio(piper: GrpcServer) -> None:
    reply = piper.stub().SynthesizeUnary(
        request(SENTENCES[1], format=pb.AUDIO_FORMAT_WAV, speed=1.5), timeout=60)
    samples, rate = decode_audio(reply.audio_data)
    assert reply.content_type == "audio/wav" and reply.voice_id == "en_US-joe-medium"
    assert reply.duration_ms / 1000 == pytest.approx(len(samples) / rate, abs=0.01)
    assert reply.usage.input_characters == len(SENTENCES[1])
    normal = piper.stub().SynthesizeUnary(request(SENTENCES[1], format=pb.AUDIO_FORMAT_WAV),
                                          timeout=60)
    assert reply.duration_ms < normal.duration_ms * 0.8  # speed was applied


def test_catalog(piper: GrpcServer) -> None:
    voices = piper.stub().ListVoices(pb.ListVoicesRequest(), timeout=10).voices
    joe = next(v for v in voices if v.id == "en_US-joe-medium")
    assert joe.engine == "piper" and joe.sample_rate == 22050 and "joe" in joe.aliases
    models = piper.stub().ListModels(pb.ListModelsRequest(), timeout=10).models
    assert {("piper", "piper"), ("fake", "fake"), ("tts-1", "piper")} <= {
        (m.id, m.engine) for m in models}


@pytest.mark.parametrize(("fields", "code", "reason", "param"), [
    ({"text": ""}, grpc.StatusCode.INVALID_ARGUMENT, "empty_input", "input"),
    ({"text": "Hi.", "speed": 9.0}, grpc.StatusCode.INVALID_ARGUMENT, "invalid_request",
     "speed"),
    ({"text": "Hi.", "sample_rate": 12345}, grpc.StatusCode.INVALID_ARGUMENT,
     "unsupported_sample_rate", "sample_rate"),
    ({"text": "Hi.", "format": 42}, grpc.StatusCode.INVALID_ARGUMENT, "invalid_request",
     "format"),
    ({"text": "Hi.", "model": "fake", "options": {"volume": 3}},
     grpc.StatusCode.INVALID_ARGUMENT, "invalid_option", None),
    ({"text": "Hi.", "voice_id": "nobody"}, grpc.StatusCode.NOT_FOUND, "voice_not_found",
     "voice"),
    ({"text": "Hi.", "model": "nothing"}, grpc.StatusCode.NOT_FOUND, "model_not_found",
     "model"),
    ({"text": "x" * 5000}, grpc.StatusCode.INVALID_ARGUMENT, "input_too_long", "input"),
])
def test_bad_requests_get_their_status_and_details(
    piper: GrpcServer, fields: dict[str, object], code: grpc.StatusCode, reason: str,
    param: str | None,
) -> None:
    req = pb.SynthesizeRequest()
    for name, value in fields.items():
        if name == "options":
            req.options.update(value)  # type: ignore[arg-type]
        else:
            setattr(req, name, value)
    for call in (lambda: _stream(piper, req),
                 lambda: piper.stub().SynthesizeUnary(req, timeout=30)):
        with pytest.raises(grpc.RpcError) as caught:
            call()
        assert caught.value.code() == code, caught.value.details()  # type: ignore[attr-defined]
        info = error_info(caught.value)
        assert info.reason == reason and info.domain == "voxserve"
        if param is not None:
            assert info.metadata["param"] == param


def test_engine_failure_mid_stream_ends_with_internal(piper: GrpcServer) -> None:
    req = request("This works. Then this one fails.", model="fake")
    req.options.update({"fail_on": "fails"})
    received: list[pb.AudioChunk] = []
    with pytest.raises(grpc.RpcError) as caught:
        for chunk in piper.stub().Synthesize(req, timeout=30):
            received.append(chunk)
    assert caught.value.code() == grpc.StatusCode.INTERNAL  # type: ignore[attr-defined]
    assert received and received[0].audio_data  # the first sentence had been sent


def test_deadline_before_first_audio(piper: GrpcServer) -> None:
    req = request("This takes too long.", model="fake")
    req.options.update({"sleep_ms": 3000})
    started = time.monotonic()
    with pytest.raises(grpc.RpcError) as caught:
        _stream(piper, req, timeout=0.5)
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED  # type: ignore[attr-defined]
    assert time.monotonic() - started < 2.5


def test_health_reflection_request_id_and_observability(piper: GrpcServer) -> None:
    channel = piper.channel()
    assert health_status(channel) == SERVING
    assert health_status(channel, "voxserve.v1.Speech") == SERVING
    assert health_status(channel, "liveness") == SERVING
    with pytest.raises(grpc.RpcError) as caught:
        health_status(channel, "no.such.Service")
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND  # type: ignore[attr-defined]

    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    replies = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(
        list_services="")]), timeout=10)
    names = {s.name for reply in replies for s in reply.list_services_response.service}
    assert {"voxserve.v1.Speech", "grpc.health.v1.Health",
            "grpc.reflection.v1alpha.ServerReflection"} <= names

    responses = piper.stub().Synthesize(request("Tag me.", model="fake"), timeout=30,
                                        metadata=(("x-request-id", "grpc-req-7"),))
    list(responses)
    assert dict(responses.initial_metadata())["x-request-id"] == "grpc-req-7"
    time.sleep(0.3)
    lines = [json.loads(line) for line in piper.log_path.read_text().splitlines()
             if line.startswith("{")]
    access = [line for line in lines if line.get("request_id") == "grpc-req-7"
              and line.get("transport") == "grpc"]
    assert access and access[-1]["status"] == "OK"
    assert access[-1]["path"] == "/voxserve.v1.Speech/Synthesize"
    assert access[-1]["characters"] == len("Tag me.") and "Tag me." not in json.dumps(lines)
    metrics = httpx.get(f"{piper.url}/metrics").text
    assert ('voxserve_grpc_requests_total{code="OK",method="/voxserve.v1.Speech/Synthesize"}'
            in metrics)
    assert 'voxserve_time_to_first_audio_seconds_count{engine="fake",transport="grpc"}' in metrics


# --- overload, rate limits, auth ------------------------------------------------------------


def test_overload_is_resource_exhausted_with_a_retry_delay(tmp_path: Path) -> None:
    server = start_server(tmp_path, flag=False, VOXSERVE_MAX_QUEUE_SEGMENTS="2",
                          VOXSERVE_ENGINE_REPLICAS="1")
    try:
        errors: list[grpc.RpcError] = []
        served: list[list[pb.AudioChunk]] = []

        def client(n: int) -> None:
            req = request(f"Client {n} first part. Second part {n}.")
            req.options.update({"sleep_ms": 300})
            try:
                served.append(list(server.stub().Synthesize(req, timeout=60)))
            except grpc.RpcError as exc:
                errors.append(exc)

        threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors and served
        for error in errors:
            assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED  # type: ignore[attr-defined]
            assert error_info(error).reason == "overloaded"
            delay = retry_delay_s(error)
            assert delay is not None and delay > 0
            assert int(trailing(error, "retry-after-ms") or 0) >= delay * 1000 - 1
        assert all(chunks[-1].usage.segments == 2 for chunks in served)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GrpcServer, dict[str, str]]]:
    """API-key auth; a per-minute request limit of 6, shared by HTTP and gRPC."""
    tmp_path = tmp_path_factory.mktemp("grpc-keys")
    env = {"VOXSERVE_DATA_DIR": str(tmp_path / "data")}
    keys = {}
    for name, scopes in (("speaker", "speech"), ("projects-only", "projects"),
                         ("limited", "speech")):
        created = subprocess.run([*VOXSERVE, "keys", "create", name, "-s", scopes],
                                 env={**os.environ, **env},
                                 capture_output=True, text=True, check=True)
        keys[name] = created.stdout.strip()
    server = start_server(tmp_path, VOXSERVE_AUTH="api_key",
                          VOXSERVE_RATE_LIMIT_REQUESTS_PER_MINUTE="6")
    yield server, keys
    server.stop()


def _bearer(key: str) -> tuple[tuple[str, str]]:
    return (("authorization", f"Bearer {key}"),)


def test_auth_with_api_keys_and_scopes(keyed: tuple[GrpcServer, dict[str, str]]) -> None:
    server, keys = keyed
    stub = server.stub()
    chunks = list(stub.Synthesize(request("Allowed."), metadata=_bearer(keys["speaker"]),
                                  timeout=30))
    assert chunks[-1].usage.input_characters == len("Allowed.")
    assert stub.ListVoices(pb.ListVoicesRequest(), metadata=_bearer(keys["speaker"]),
                           timeout=10).voices
    for metadata, code in (
        ((), grpc.StatusCode.UNAUTHENTICATED),
        (_bearer(keys["speaker"] + "x"), grpc.StatusCode.UNAUTHENTICATED),
        ((("authorization", "Basic abc"),), grpc.StatusCode.UNAUTHENTICATED),
        (_bearer(keys["projects-only"]), grpc.StatusCode.PERMISSION_DENIED),
    ):
        with pytest.raises(grpc.RpcError) as caught:
            list(stub.Synthesize(request("Refused."), metadata=metadata, timeout=30))
        assert caught.value.code() == code  # type: ignore[attr-defined]
        with pytest.raises(grpc.RpcError) as listed:
            stub.ListModels(pb.ListModelsRequest(), metadata=metadata, timeout=10)
        assert listed.value.code() == code  # type: ignore[attr-defined]
    # health and reflection need no credential (as /healthz and /readyz)
    assert health_status(server.channel()) == SERVING
    audit = [json.loads(line) for line in
             (server.log_path.parent / "data" / "audit.jsonl").read_text().splitlines()]
    grpc_records = [r for r in audit if r["method"] == "GRPC"]
    assert any(r["route"] == "/voxserve.v1.Speech/Synthesize" and r["status"] == 0
               and r["auth_method"] == "api_key" and r["characters"] == len("Allowed.")
               for r in grpc_records)
    assert all("text" not in r for r in grpc_records)


def test_rate_limit_is_shared_with_http(keyed: tuple[GrpcServer, dict[str, str]]) -> None:
    server, keys = keyed
    key = keys["limited"]
    for _ in range(3):
        response = httpx.post(f"{server.url}/v1/audio/speech", timeout=30,
                              headers={"Authorization": f"Bearer {key}"},
                              json={"input": "Counted.", "response_format": "pcm"})
        assert response.status_code == 200
    for _ in range(3):
        list(server.stub().Synthesize(request("Counted."), metadata=_bearer(key), timeout=30))
    with pytest.raises(grpc.RpcError) as caught:
        list(server.stub().Synthesize(request("One too many."), metadata=_bearer(key),
                                      timeout=30))
    error = caught.value
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED  # type: ignore[attr-defined]
    info = error_info(error)
    assert info.reason == "rate_limit_exceeded" and info.metadata["limit"] == "requests"
    assert (retry_delay_s(error) or 0) >= 1
    assert httpx.post(f"{server.url}/v1/audio/speech", timeout=30,
                      headers={"Authorization": f"Bearer {key}"},
                      json={"input": "Also refused.", "response_format": "pcm"}
                      ).status_code == 429


# --- drain ----------------------------------------------------------------------------------


def test_sigterm_drains_running_streams_and_refuses_new_calls(tmp_path: Path) -> None:
    server = start_server(tmp_path, VOXSERVE_SHUTDOWN_DRAIN_S="20")
    try:
        sentences = [f"Sentence {n} of the long one." for n in range(8)]
        received: list[pb.AudioChunk] = []
        first = threading.Event()
        outcome: list[object] = []

        def long_call() -> None:
            req = request(" ".join(sentences), format=pb.AUDIO_FORMAT_PCM)
            req.options.update({"sleep_ms": 250})
            try:
                for chunk in server.stub().Synthesize(req, timeout=60):
                    received.append(chunk)
                    first.set()
                outcome.append("ok")
            except grpc.RpcError as exc:
                outcome.append(exc)

        thread = threading.Thread(target=long_call)
        thread.start()
        assert first.wait(30)
        channel = server.channel()
        server.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 5
        while health_status(channel) != NOT_SERVING:
            assert time.monotonic() < deadline, "health still SERVING while draining"
            time.sleep(0.05)
        assert health_status(channel, "voxserve.v1.Speech") == NOT_SERVING
        with pytest.raises(grpc.RpcError) as caught:
            list(server.stub().Synthesize(request("Too late."), timeout=10))
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]
        assert error_info(caught.value).reason == "shutting_down"
        assert (retry_delay_s(caught.value) or 0) > 0
        thread.join(30)
        assert outcome == ["ok"]
        assert server.process.wait(30) == -signal.SIGTERM
        audio = pcm_to_float(b"".join(c.audio_data for c in received))
        assert len(audio) >= sum(len(tone_for(s)) for s in sentences)  # nothing cut off
    finally:
        server.stop()


# --- TLS ------------------------------------------------------------------------------------


def test_tls_with_the_http_certificate(tmp_path: Path) -> None:
    cert_path, key_path = self_signed_certificate(tmp_path)
    cert_pem = cert_path.read_bytes()
    port, grpc_port = free_port(), free_port()
    env = {**os.environ, "VOXSERVE_DATA_DIR": str(tmp_path / "data"), "VOXSERVE_ENGINES": "fake",
           "VOXSERVE_DEFAULT_MODEL": "fake"}
    process = subprocess.Popen(
        [sys.executable, "-m", "voxserve", "serve", "--port", str(port), "--grpc-port",
         str(grpc_port), "--ssl-certfile", str(cert_path), "--ssl-keyfile", str(key_path)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        channel = grpc.secure_channel(f"127.0.0.1:{grpc_port}",
                                      grpc.ssl_channel_credentials(root_certificates=cert_pem))
        grpc.channel_ready_future(channel).result(timeout=60)
        deadline = time.monotonic() + 60
        while health_status(channel) != SERVING:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        chunks = list(speech_pb2_grpc.SpeechStub(channel).Synthesize(
            request("Over TLS.", format=pb.AUDIO_FORMAT_PCM), timeout=30))
        assert len(pcm_to_float(b"".join(c.audio_data for c in chunks))) > 0
        plain = grpc.insecure_channel(f"127.0.0.1:{grpc_port}")
        with pytest.raises(grpc.RpcError):
            health_status(plain)  # not without TLS
    finally:
        process.kill()
        process.wait(10)


# --- message sizes --------------------------------------------------------------------------


def test_message_size_limits(tmp_path: Path) -> None:
    server = start_server(tmp_path, VOXSERVE_GRPC_MAX_RECEIVE_MESSAGE_BYTES="65536",
                          VOXSERVE_GRPC_MAX_SEND_MESSAGE_BYTES="1048576",
                          VOXSERVE_MAX_INPUT_CHARS="100000")
    try:
        stub = server.stub()
        with pytest.raises(grpc.RpcError) as caught:  # a request over the receive limit
            stub.SynthesizeUnary(request("word " * 20_000), timeout=30)
        assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED  # type: ignore[attr-defined]
        # fake engine: 0.02 s of 16 kHz audio per character, 640 bytes of wav: ~2 MiB here
        long_text = " ".join(f"Sentence number {n} goes on for a while." for n in range(80))
        with pytest.raises(grpc.RpcError) as too_big:
            stub.SynthesizeUnary(request(long_text, format=pb.AUDIO_FORMAT_WAV), timeout=60)
        assert too_big.value.code() == grpc.StatusCode.INVALID_ARGUMENT  # type: ignore[attr-defined]
        assert "use Synthesize" in too_big.value.details()  # type: ignore[attr-defined]
        chunks = list(stub.Synthesize(request(long_text, format=pb.AUDIO_FORMAT_WAV),
                                      timeout=60))  # streamed: no limit on the whole
        assert sum(len(c.audio_data) for c in chunks) > 1048576
        assert max(len(c.audio_data) for c in chunks) <= 256 * 1024
    finally:
        server.stop()


def test_a_grpc_port_in_use_stops_the_start_with_a_clear_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        grpc_port = taken.getsockname()[1]
        env = {**os.environ, "VOXSERVE_DATA_DIR": str(tmp_path / "data"),
               "VOXSERVE_ENGINES": "fake", "VOXSERVE_DEFAULT_MODEL": "fake",
               "VOXSERVE_LOG_FORMAT": "text"}
        done = subprocess.run(
            [sys.executable, "-m", "voxserve", "serve", "--port", str(free_port()),
             "--grpc-port", str(grpc_port)], env=env, capture_output=True, text=True,
            timeout=60)
    assert done.returncode == 3  # uvicorn's start-up failure, as for a taken HTTP port
    assert f"cannot listen for gRPC on 127.0.0.1:{grpc_port}" in done.stderr
