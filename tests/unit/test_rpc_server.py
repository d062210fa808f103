"""rpc/health.py follows the process state; rpc/server.py options and addresses; the
settings of the gRPC block."""

from __future__ import annotations

import asyncio

import pytest
from grpc_health.v1 import health_pb2

from voxserve.rpc.call import peer_host
from voxserve.rpc.health import LIVENESS_SERVICE, StateHealth
from voxserve.rpc.server import bind_address, server_options
from voxserve.service.lifecycle import ServiceState
from voxserve.settings import Settings

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
SPEECH = "voxserve.v1.Speech"


async def _status(health: StateHealth, service: str) -> int:
    response = await health.Check(health_pb2.HealthCheckRequest(service=service), None)
    status: int = response.status
    return status


def test_health_follows_loading_ready_draining() -> None:
    async def scenario() -> list[tuple[int, int, int]]:
        state = ServiceState()
        health = StateHealth(state, (SPEECH,))
        seen = []

        async def look() -> None:
            await health.update()
            seen.append((await _status(health, ""), await _status(health, SPEECH),
                         await _status(health, LIVENESS_SERVICE)))

        await health.start()
        await look()  # loading
        state.started = True
        await look()  # ready
        state.draining = True
        await look()  # draining
        state.draining, state.load_error = False, "broken voice"
        await look()  # loading failed
        await health.stop()
        seen.append((await _status(health, ""), await _status(health, SPEECH),
                     await _status(health, LIVENESS_SERVICE)))
        return seen

    assert asyncio.run(scenario()) == [
        (NOT_SERVING, NOT_SERVING, SERVING),
        (SERVING, SERVING, SERVING),
        (NOT_SERVING, NOT_SERVING, SERVING),
        (NOT_SERVING, NOT_SERVING, SERVING),
        (NOT_SERVING, NOT_SERVING, NOT_SERVING),  # stopping: everything goes away
    ]


def test_health_notices_changes_by_itself() -> None:
    async def scenario() -> int:
        state = ServiceState()
        health = StateHealth(state, (SPEECH,))
        await health.start()
        state.started = True
        await asyncio.sleep(0.5)  # no update() call: the follower sees it
        status = await _status(health, "")
        await health.stop()
        return status

    assert asyncio.run(scenario()) == SERVING


def test_server_options_come_from_settings() -> None:
    settings = Settings(grpc_port=50051, grpc_max_receive_message_bytes=65536,
                        grpc_keepalive_time_s=30, grpc_keepalive_min_ping_interval_s=15)
    options = dict(server_options(settings))
    assert options["grpc.max_receive_message_length"] == 65536
    assert options["grpc.max_send_message_length"] == settings.grpc_max_send_message_bytes
    assert options["grpc.keepalive_time_ms"] == 30_000
    assert options["grpc.http2.min_recv_ping_interval_without_data_ms"] == 15_000


def test_grpc_is_off_by_default_and_set_by_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings().grpc_port is None
    monkeypatch.setenv("VOXSERVE_GRPC_PORT", "50051")
    assert Settings().grpc_port == 50051
    monkeypatch.setenv("VOXSERVE_GRPC_PORT", "0")  # off, as VOXSERVE_METRICS_PORT=0
    assert not Settings().grpc_port
    monkeypatch.setenv("VOXSERVE_GRPC_PORT", "70000")
    with pytest.raises(ValueError, match="grpc_port"):
        Settings()


@pytest.mark.parametrize(("host", "expected"), [
    ("127.0.0.1", "127.0.0.1:50051"), ("0.0.0.0", "0.0.0.0:50051"), ("::", "[::]:50051"),
    ("::1", "[::1]:50051"),
])
def test_bind_address(host: str, expected: str) -> None:
    assert bind_address(host, 50051) == expected


@pytest.mark.parametrize(("peer", "host"), [
    ("ipv4:10.1.2.3:5555", "10.1.2.3"), ("ipv6:[::1]:5555", "::1"), ("unix:/tmp/s", None),
])
def test_peer_host(peer: str, host: str | None) -> None:
    assert peer_host(peer) == host
