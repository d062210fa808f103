"""Process state the probes and the drain logic share: loading, ready, draining, in flight."""

from __future__ import annotations

import asyncio
import time


class ServiceState:
    """Lives on the event loop."""

    def __init__(self) -> None:
        self.load_error: str | None = None
        self.started = False
        self.draining = False
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def ready(self) -> bool:
        return self.started and not self.draining and self.load_error is None

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def request_started(self) -> None:
        self._in_flight += 1
        self._idle.clear()

    def request_finished(self) -> None:
        self._in_flight -= 1
        if self._in_flight == 0:
            self._idle.set()

    async def drain(self, timeout_s: float) -> bool:
        """Stop taking requests and wait for those in flight; True when all finished."""
        self.draining = True
        deadline = time.monotonic() + timeout_s
        try:
            await asyncio.wait_for(self._idle.wait(), max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            return False
        return True
