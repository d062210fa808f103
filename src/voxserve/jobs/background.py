"""CPU-heavy job work (encoding a chapter, building a book) on low-priority threads.

Encoding competes for the same cores as the engine. Run at a lower scheduling priority
(``nice`` +10 for these threads, on Linux), it takes only the CPU that synthesis leaves, so
an interactive request served while a document is converted is not slowed down by the
conversion's encoding; a busy machine still finishes it, as nothing else wants the CPU then.
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

#: Added to the threads' nice value (0 normal, 19 lowest).
BACKGROUND_NICENESS = 10
_THREADS = 2

P = ParamSpec("P")
R = TypeVar("R")

_executor: ThreadPoolExecutor | None = None
_lock = threading.Lock()


def _lower_priority() -> None:
    setpriority = getattr(os, "setpriority", None)
    if setpriority is None:  # not on this platform: normal priority
        return
    try:
        # on Linux a thread is a task of its own: PRIO_PROCESS with its id renices just it
        current = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        setpriority(os.PRIO_PROCESS, threading.get_native_id(),
                    min(19, current + BACKGROUND_NICENESS))
    except OSError:
        logger.debug("could not lower the background threads' priority", exc_info=True)


def _pool() -> ThreadPoolExecutor:
    global _executor
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(_THREADS, thread_name_prefix="voxserve-background",
                                           initializer=_lower_priority)
        return _executor


async def run_in_background(func: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """``func(*args, **kwargs)`` on a low-priority thread; its result (or exception)."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_pool(), functools.partial(func, *args, **kwargs))
