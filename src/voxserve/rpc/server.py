"""The ``grpc.aio`` server: built and started on the HTTP server's event loop (by
``voxserve.server``), stopped with grace on shutdown.

Services: ``voxserve.v1.Speech``, ``grpc.health.v1.Health`` and server reflection
(``grpc.reflection.v1alpha``: ``grpcurl list`` works without the proto). TLS uses
the HTTP server's certificate and key. Limits and keepalive come from the ``grpc_*``
settings: the largest message received and sent, server pings on idle connections
(``grpc_keepalive_time_s``/``_timeout_s``, so dead peers behind NATs are noticed), and how
often clients may ping (``grpc_keepalive_min_ping_interval_s``: more often, and the server
answers GOAWAY ``too_many_pings``).
"""

from __future__ import annotations

import logging
from pathlib import Path

import grpc
import grpc.aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from voxserve.rpc.call import RpcEnvironment
from voxserve.rpc.health import StateHealth
from voxserve.rpc.servicer import SERVICE_NAME, SpeechServicer
from voxserve.rpc.v1 import speech_pb2_grpc
from voxserve.settings import Settings

logger = logging.getLogger(__name__)


def server_options(settings: Settings) -> list[tuple[str, int]]:
    """Channel arguments of the server (message sizes, keepalive)."""
    return [
        ("grpc.max_receive_message_length", settings.grpc_max_receive_message_bytes),
        ("grpc.max_send_message_length", settings.grpc_max_send_message_bytes),
        ("grpc.keepalive_time_ms", int(settings.grpc_keepalive_time_s * 1000)),
        ("grpc.keepalive_timeout_ms", int(settings.grpc_keepalive_timeout_s * 1000)),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.min_recv_ping_interval_without_data_ms",
         int(settings.grpc_keepalive_min_ping_interval_s * 1000)),
        ("grpc.http2.max_ping_strikes", 2),
        ("grpc.so_reuseport", 0),
    ]


def bind_address(host: str, port: int) -> str:
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{host or '0.0.0.0'}:{port}"


class GrpcServer:
    """The gRPC side of a ``voxserve serve`` process."""

    def __init__(
        self,
        env: RpcEnvironment,
        *,
        port: int,
        ssl_certfile: Path | None = None,
        ssl_keyfile: Path | None = None,
    ) -> None:
        self._env = env
        self._port = port
        self._tls = (ssl_certfile, ssl_keyfile) if ssl_certfile and ssl_keyfile else None
        self.health = StateHealth(env.state, (SERVICE_NAME,))
        self._server: grpc.aio.Server | None = None
        #: The port it listens on (the one asked for, or the one chosen for port 0).
        self.port: int | None = None

    async def start(self) -> None:
        """Build the server on the running loop, bind and start it."""
        settings = self._env.settings
        server = grpc.aio.server(options=server_options(settings))
        speech_pb2_grpc.add_SpeechServicer_to_server(  # type: ignore[no-untyped-call]
            SpeechServicer(self._env), server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        names = (SERVICE_NAME, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                 reflection.SERVICE_NAME)
        reflection.enable_server_reflection(names, server)
        address = bind_address(settings.host, self._port)
        try:
            if self._tls is None:
                self.port = server.add_insecure_port(address)
            else:
                cert, key = (path.read_bytes() for path in self._tls)
                credentials = grpc.ssl_server_credentials([(key, cert)])
                self.port = server.add_secure_port(address, credentials)
        except RuntimeError as exc:  # grpc's "Failed to bind to address"
            raise OSError(f"cannot listen for gRPC on {address}: {exc}") from exc
        await self.health.start()  # statuses set before the first probe can arrive
        await server.start()
        self._server = server
        logger.info("gRPC API at %s", bind_address(settings.host, self.port),
                    extra={"grpc_port": self.port, "tls": self._tls is not None})

    async def stop(self, grace_s: float) -> None:
        """Health NOT_SERVING, no new calls, running ones get ``grace_s``, then cancelled."""
        if self._server is None:
            return
        await self.health.stop()
        await self._server.stop(grace_s)
        self._server = None
