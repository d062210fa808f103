"""Single-flight: concurrent calls for the same key share one execution of the work."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(slots=True)
class _Flight(Generic[T]):
    task: asyncio.Future[T]
    waiters: int = 0


class SingleFlight(Generic[T]):
    """Deduplicates concurrent work by key, within one event loop.

    The first caller of :meth:`run` for a key starts ``factory()`` as a task; callers that
    arrive while it runs await the same task and get its result or its exception. A waiter
    that is cancelled leaves without cancelling the work for the others; when the last waiter
    is gone the work is cancelled. Once the work ends the key is free: the next call runs
    ``factory`` again (results are not kept; that is the cache's job).
    """

    def __init__(self) -> None:
        self._flights: dict[Hashable, _Flight[T]] = {}

    def __len__(self) -> int:
        """Keys with work in progress."""
        return len(self._flights)

    async def run(self, key: Hashable, factory: Callable[[], Awaitable[T]]) -> T:
        flight = self._flights.get(key)
        if flight is None:
            flight = _Flight(asyncio.ensure_future(factory()))
            self._flights[key] = flight
            flight.task.add_done_callback(lambda _: self._release(key, flight))
        flight.waiters += 1
        try:
            return await asyncio.shield(flight.task)
        finally:
            flight.waiters -= 1
            if flight.waiters == 0 and not flight.task.done():
                self._release(key, flight)  # a later caller must not join cancelled work
                flight.task.cancel()

    def _release(self, key: Hashable, flight: _Flight[T]) -> None:
        if self._flights.get(key) is flight:
            del self._flights[key]
