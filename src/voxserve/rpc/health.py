"""``grpc.health.v1.Health`` following the process's state (``service.lifecycle``).

Services: ``""`` (the server as a whole) and ``voxserve.v1.Speech`` are SERVING only once
the engines are loaded, and NOT_SERVING while they load, when loading failed, and from the
start of the drain on (the readiness of ``/readyz``); ``liveness`` is SERVING while the
process serves at all (the liveness of ``/healthz``; a liveness probe must not fail while
the engines load).
"""

from __future__ import annotations

import asyncio
import contextlib

from grpc_health.v1 import health_pb2
from grpc_health.v1.health import aio

from voxserve.service.lifecycle import ServiceState

LIVENESS_SERVICE = "liveness"
#: How often the state is looked at (probes and ``Watch`` streams see a change this late).
POLL_INTERVAL_S = 0.2

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class StateHealth(aio.HealthServicer):  # type: ignore[misc]
    """The health service, kept in step with a :class:`ServiceState` by :meth:`follow`."""

    def __init__(self, state: ServiceState, services: tuple[str, ...]) -> None:
        super().__init__()
        self._state = state
        self._readiness = ("", *services)
        self._shown: bool | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.set(LIVENESS_SERVICE, SERVING)
        await self.update()
        self._task = asyncio.create_task(self._follow())

    async def update(self) -> None:
        ready = self._state.ready
        if ready == self._shown:
            return
        self._shown = ready
        for service in self._readiness:
            await self.set(service, SERVING if ready else NOT_SERVING)

    async def stop(self) -> None:
        """Everything NOT_SERVING from now on (the server is going away)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.enter_graceful_shutdown()

    async def _follow(self) -> None:
        while True:
            await asyncio.sleep(POLL_INTERVAL_S)
            await self.update()
