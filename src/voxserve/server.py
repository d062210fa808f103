"""Running the app under uvicorn with a graceful, draining shutdown.

On SIGTERM or SIGINT the server first drains: readiness turns 503 and new speech requests
are refused with 503, while requests in flight get up to ``shutdown_drain_s`` to finish;
only then does uvicorn stop listening and exit. A second signal exits at once.

With ``grpc_port`` set, the gRPC API (``voxserve.rpc``) runs in the same process, on the
same event loop: started once uvicorn has started (the app's lifespan has run), counted in
the same drain (its health turns NOT_SERVING and new calls are refused with UNAVAILABLE as
the drain starts), and stopped with ``grpc_stop_grace_s`` before the app shuts down.

The HTTP protocol is uvicorn's httptools one with a bound on the request head's size and
the time to send it (``voxserve.api.http_protocol``); ``X-Forwarded-*`` headers are believed
only from ``forwarded_allow_ips`` (none by default: uvicorn's own default trusts
127.0.0.1, so any local process could pose as any client); no ``server`` header.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
from pathlib import Path
from types import FrameType

import uvicorn
from fastapi import FastAPI
from uvicorn.config import STARTUP_FAILURE

from voxserve.api.http_protocol import MAX_HEAD_BYTES, bounded_protocol
from voxserve.rpc.call import RpcEnvironment
from voxserve.rpc.server import GrpcServer
from voxserve.service.lifecycle import ServiceState
from voxserve.settings import Settings

logger = logging.getLogger(__name__)


class DrainingServer(uvicorn.Server):
    def __init__(
        self, config: uvicorn.Config, state: ServiceState, drain_s: float,
        *, grpc: GrpcServer | None = None, grpc_grace_s: float = 5.0,
    ) -> None:
        super().__init__(config)
        self._state = state
        self._drain_s = drain_s
        self._draining: asyncio.Task[None] | None = None
        self.grpc = grpc
        self._grpc_grace_s = grpc_grace_s
        #: Logged once the server listens (the web UI and the API are there).
        self.address: str | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and self.grpc is not None:
            try:
                await self.grpc.start()
            except OSError as exc:  # as uvicorn does when it cannot bind the HTTP port
                logger.error("%s", exc)
                for server in self.servers:
                    server.close()
                await self.lifespan.shutdown()
                sys.exit(STARTUP_FAILURE)
        if self.address and self.started:
            logger.info("web UI at %s, API docs at %sdocs", self.address, self.address,
                        extra={"url": self.address})

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self.grpc is not None:
            await self.grpc.stop(self._grpc_grace_s)
        await super().shutdown(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._draining is not None or self._drain_s <= 0:
            super().handle_exit(sig, frame)
            return
        loop = asyncio.get_event_loop()
        self._draining = loop.create_task(self._drain_then_exit(sig, frame))

    async def _drain_then_exit(self, sig: int, frame: FrameType | None) -> None:
        logger.info("draining", extra={"in_flight": self._state.in_flight,
                                       "drain_s": self._drain_s})
        finished = await self._state.drain(self._drain_s)
        logger.info("drained" if finished else "drain time over",
                    extra={"in_flight": self._state.in_flight})
        super().handle_exit(sig, frame)


def run_server(
    app: FastAPI,
    settings: Settings,
    *,
    ssl_certfile: Path | None = None,
    ssl_keyfile: Path | None = None,
) -> None:
    config = uvicorn.Config(
        app, host=settings.host, port=settings.port, log_level=settings.log_level,
        access_log=False, log_config=None, timeout_graceful_shutdown=5,
        ssl_certfile=str(ssl_certfile) if ssl_certfile else None,
        ssl_keyfile=str(ssl_keyfile) if ssl_keyfile else None,
        http=bounded_protocol(max_head_bytes=MAX_HEAD_BYTES,
                              head_timeout_s=settings.header_timeout_s),
        server_header=False,
        proxy_headers=bool(settings.forwarded_allow_ips),
        forwarded_allow_ips=settings.forwarded_allow_ips or None,
        # A bigger WebSocket message is refused (1009) before it is buffered whole.
        ws_max_size=settings.ws_max_message_bytes,
    )
    if settings.metrics_port:
        _serve_metrics(settings.host, settings.metrics_port)
    state: ServiceState = app.state.service_state
    grpc = None
    if settings.grpc_port:
        grpc = GrpcServer(rpc_environment(app), port=settings.grpc_port,
                          ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile)
    server = DrainingServer(config, state, settings.shutdown_drain_s, grpc=grpc,
                            grpc_grace_s=settings.grpc_stop_grace_s)
    server.address = web_address(settings.host, settings.port, tls=ssl_certfile is not None)
    server.run()


def rpc_environment(app: FastAPI) -> RpcEnvironment:
    """The objects ``create_app`` wired, for the gRPC transport (the same ones HTTP uses)."""
    return RpcEnvironment(
        settings=app.state.settings, speech=app.state.speech, catalog=app.state.catalog,
        state=app.state.service_state, authenticator=app.state.authenticator,
        rate_limiter=app.state.rate_limiter, audit_log=app.state.audit_log,
    )


def web_address(host: str, port: int, *, tls: bool) -> str:
    """The URL people open: a wildcard bind address is shown as this machine's loopback."""
    shown = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    if ":" in shown:
        shown = f"[{shown}]"
    return f"{'https' if tls else 'http'}://{shown}:{port}/"


def _serve_metrics(host: str, port: int) -> None:
    """``/metrics`` on a port of its own (a thread of prometheus_client's server)."""
    from prometheus_client import start_http_server

    start_http_server(port, addr=host)
    logger.info("metrics at http://%s:%s/metrics", host, port)
