"""Background job work runs on low-priority threads and hands back results and errors."""

from __future__ import annotations

import asyncio
import os
import sys
import threading

import pytest

from voxserve.jobs.background import BACKGROUND_NICENESS, run_in_background


def _own_niceness() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux's")
def test_work_runs_at_a_lower_priority_than_the_event_loop() -> None:
    async def run() -> tuple[int, int]:
        return _own_niceness(), await run_in_background(_own_niceness)

    loop_niceness, background_niceness = asyncio.run(run())
    assert background_niceness == min(19, loop_niceness + BACKGROUND_NICENESS)


def test_results_and_errors_come_back() -> None:
    def divide(a: int, b: int) -> float:
        return a / b

    async def run() -> float:
        with pytest.raises(ZeroDivisionError):
            await run_in_background(divide, 1, 0)
        return await run_in_background(divide, 6, b=3)

    assert asyncio.run(run()) == 2.0
