"""CPU-heavy job work (encoding a chapter, building a book) off the event loop, yielding to
interactive requests while there are any.

Encoding competes for the same cores as the engine. While the process serves interactive
requests (the API server with its in-process queue), the work runs on threads of lower
scheduling priority (``nice`` +10, Linux): it takes only the CPU synthesis leaves, so
a conversion's encoding does not slow the requests. Otherwise (a ``voxserve worker``, or
no interactive traffic lately) it runs at normal priority: starving it would only delay the
project's end (measured: 5 % slower conversions on a worker with the encoding niced).
Two pools rather than renicing a thread back: raising a nice value needs no privilege,
lowering it does.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

logger = logging.getLogger(__name__)

#: Added to the low-priority threads' nice value (0 normal, 19 lowest).
BACKGROUND_NICENESS = 10
_THREADS = 2

P = ParamSpec("P")
R = TypeVar("R")


def _lower_priority() -> None:
    setpriority = getattr(os, "setpriority", None)
    if setpriority is None:  # not on this platform: normal priority
        return
    try:
        # on Linux a thread is a task of its own: PRIO_PROCESS with its id renices just it
        thread_id = threading.get_native_id()
        current = os.getpriority(os.PRIO_PROCESS, thread_id)
        setpriority(os.PRIO_PROCESS, thread_id, min(19, current + BACKGROUND_NICENESS))
    except OSError:
        logger.debug("could not lower the background threads' priority", exc_info=True)


class BackgroundPool:
    """Threads for CPU-heavy job work. ``yield_to()`` (if given) says whether interactive
    work is going on now; such jobs then run on the low-priority threads."""

    def __init__(self, yield_to: Callable[[], bool] | None = None) -> None:
        self._yield_to = yield_to
        self._normal = ThreadPoolExecutor(_THREADS, thread_name_prefix="voxserve-background")
        self._low: ThreadPoolExecutor | None = None

    def _executor(self) -> ThreadPoolExecutor:
        if self._yield_to is None or not self._yield_to():
            return self._normal
        if self._low is None:
            self._low = ThreadPoolExecutor(_THREADS, thread_name_prefix="voxserve-background-low",
                                           initializer=_lower_priority)
        return self._low

    async def run(self, func: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """``func(*args, **kwargs)`` on a pool thread; its result (or exception)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor(),
                                          functools.partial(func, *args, **kwargs))

    def close(self) -> None:
        for executor in (self._normal, self._low):
            if executor is not None:
                executor.shutdown(wait=False, cancel_futures=True)
