"""While the engines load, gRPC health says NOT_SERVING (liveness SERVING) and calls get
UNAVAILABLE with a retry delay; once loaded, SERVING. The server runs in this process as
``voxserve serve`` runs it, with the catalog's load held until the test lets it go."""

from __future__ import annotations

import threading
import time

import grpc
import pytest
import uvicorn
from grpc_health.v1 import health_pb2

from tests.conftest import free_port
from tests.grpc_tools import error_info, health_status, request, retry_delay_s, trailing
from voxserve.api.app import create_app
from voxserve.rpc.server import GrpcServer
from voxserve.rpc.v1 import speech_pb2_grpc
from voxserve.server import DrainingServer, rpc_environment
from voxserve.settings import Settings

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def test_health_and_calls_while_the_engines_load(settings: Settings) -> None:
    grpc_port = free_port()
    app = create_app(settings.model_copy(
        update={"engines": ["fake"], "default_model": "fake", "grpc_port": grpc_port}))
    release = threading.Event()
    catalog = app.state.catalog
    real_load = catalog.load

    def held_load() -> None:
        assert release.wait(30), "the test never let the load finish"
        real_load()

    catalog.load = held_load
    config = uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning")
    server = DrainingServer(config, app.state.service_state, 0.0,
                            grpc=GrpcServer(rpc_environment(app), port=grpc_port))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        channel = grpc.insecure_channel(f"127.0.0.1:{grpc_port}")
        grpc.channel_ready_future(channel).result(timeout=30)
        assert health_status(channel) == NOT_SERVING
        assert health_status(channel, "voxserve.v1.Speech") == NOT_SERVING
        assert health_status(channel, "liveness") == SERVING
        with pytest.raises(grpc.RpcError) as caught:
            list(speech_pb2_grpc.SpeechStub(channel).Synthesize(request("Too soon."),
                                                                timeout=10))
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]
        assert error_info(caught.value).reason == "not_ready"
        assert retry_delay_s(caught.value) == 5.0
        assert trailing(caught.value, "retry-after-ms") == "5000"
        release.set()
        deadline = time.monotonic() + 30
        while health_status(channel) != SERVING:
            assert time.monotonic() < deadline, "never SERVING after the load"
            time.sleep(0.05)
        chunks = list(speech_pb2_grpc.SpeechStub(channel).Synthesize(request("Now."),
                                                                     timeout=30))
        assert chunks[-1].usage.segments == 1
    finally:
        release.set()
        server.should_exit = True
        thread.join(timeout=15)
