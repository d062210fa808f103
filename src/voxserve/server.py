"""Running the app under uvicorn with a graceful, draining shutdown.

On SIGTERM or SIGINT the server first drains: readiness turns 503 and new speech requests
are refused with 503, while requests in flight get up to ``shutdown_drain_s`` to finish;
only then does uvicorn stop listening and exit. A second signal exits at once.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from types import FrameType

import uvicorn
from fastapi import FastAPI

from voxserve.service.lifecycle import ServiceState
from voxserve.settings import Settings

logger = logging.getLogger(__name__)


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, state: ServiceState, drain_s: float) -> None:
        super().__init__(config)
        self._state = state
        self._drain_s = drain_s
        self._draining: asyncio.Task[None] | None = None

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
        # Header count and size are bounded by RequestLimitsMiddleware (431); put a proxy
        # with header buffer limits in front for parser-level protection.
        http="httptools",
    )
    state: ServiceState = app.state.service_state
    DrainingServer(config, state, settings.shutdown_drain_s).run()
