"""A gRPC client that cancels its call stops the synthesis (as an HTTP client that goes
away does, tests/e2e/test_streaming.py): the server runs in this process, as ``voxserve
serve`` runs it (uvicorn + the gRPC server on its loop), so the fake engine's hook sees
every segment."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import grpc
import pytest
import uvicorn

from tests.conftest import free_port, wait_ready
from tests.grpc_tools import request, wait_serving
from voxserve.api.app import create_app
from voxserve.engines.fake import FakeEngine
from voxserve.rpc.server import GrpcServer
from voxserve.rpc.v1 import speech_pb2 as pb
from voxserve.rpc.v1 import speech_pb2_grpc
from voxserve.server import DrainingServer, rpc_environment
from voxserve.settings import Settings


@dataclass
class LiveGrpc:
    stub: speech_pb2_grpc.SpeechStub
    fake: FakeEngine


@pytest.fixture(scope="module")
def live(settings: Settings) -> Iterator[LiveGrpc]:
    grpc_port = free_port()
    app = create_app(settings.model_copy(  # no cache: the hook must see every synthesis
        update={"engines": ["fake"], "default_model": "fake", "cache_url": "none",
                "grpc_port": grpc_port}))
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = DrainingServer(config, app.state.service_state, 0.0,
                            grpc=GrpcServer(rpc_environment(app), port=grpc_port))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_ready(f"http://127.0.0.1:{port}", None, timeout_s=30)
    channel = grpc.insecure_channel(f"127.0.0.1:{grpc_port}")
    wait_serving(channel, timeout_s=30)
    fake = app.state.catalog.engine("fake")
    assert isinstance(fake, FakeEngine)
    yield LiveGrpc(speech_pb2_grpc.SpeechStub(channel), fake)
    server.should_exit = True
    thread.join(timeout=10)


def _slow_segments(live: LiveGrpc) -> list[str]:
    sentences = [f"Sentence number {n} is here." for n in range(1, 41)]

    def slow(text: str) -> None:
        time.sleep(0.05)

    live.fake.before_segment = slow
    return sentences


def test_cancel_stops_synthesis(live: LiveGrpc) -> None:
    sentences = _slow_segments(live)
    try:
        before = len(live.fake.segments_synthesized)
        call = live.stub.Synthesize(
            request(" ".join(sentences), format=pb.AUDIO_FORMAT_PCM), timeout=30)
        first = next(call)
        assert first.audio_data
        call.cancel()
        with pytest.raises(grpc.RpcError) as caught:
            next(call)
        assert caught.value.code() == grpc.StatusCode.CANCELLED  # type: ignore[attr-defined]
        time.sleep(1.0)  # 40 segments x 50 ms = 2 s if nobody stopped them
        done = len(live.fake.segments_synthesized) - before
        assert done < len(sentences) // 2
    finally:
        live.fake.before_segment = None


def test_a_call_that_runs_to_the_end_synthesizes_everything(live: LiveGrpc) -> None:
    """The control: without the cancel, every segment is synthesized."""
    sentences = _slow_segments(live)
    try:
        before = len(live.fake.segments_synthesized)
        chunks = list(live.stub.Synthesize(
            request(" ".join(sentences), format=pb.AUDIO_FORMAT_PCM), timeout=30))
        assert chunks[-1].usage.segments == len(sentences)
        assert len(live.fake.segments_synthesized) - before == len(sentences)
    finally:
        live.fake.before_segment = None


def test_deadline_during_the_stream_stops_synthesis(live: LiveGrpc) -> None:
    sentences = _slow_segments(live)
    try:
        before = len(live.fake.segments_synthesized)
        with pytest.raises(grpc.RpcError) as caught:
            list(live.stub.Synthesize(
                request(" ".join(sentences), format=pb.AUDIO_FORMAT_PCM), timeout=0.6))
        assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED  # type: ignore[attr-defined]
        time.sleep(1.0)
        assert len(live.fake.segments_synthesized) - before < len(sentences) // 2
    finally:
        live.fake.before_segment = None
