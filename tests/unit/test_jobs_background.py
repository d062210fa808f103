"""Background job work: low-priority threads while interactive work goes on, normal ones
otherwise; results and errors come back."""

from __future__ import annotations

import asyncio
import os
import sys
import threading

import pytest

from voxserve.jobs.work.background import BACKGROUND_NICENESS, BackgroundPool


def _own_niceness() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux's")
def test_work_yields_to_interactive_requests_only_while_there_are_some() -> None:
    interactive = [True]
    pool = BackgroundPool(yield_to=lambda: interactive[0])

    async def run() -> tuple[int, int, int]:
        busy = await pool.run(_own_niceness)
        interactive[0] = False
        quiet = await pool.run(_own_niceness)
        return _own_niceness(), busy, quiet

    try:
        loop_niceness, busy, quiet = asyncio.run(run())
    finally:
        pool.close()
    assert busy == min(19, loop_niceness + BACKGROUND_NICENESS)
    assert quiet == loop_niceness


def test_results_and_errors_come_back() -> None:
    pool = BackgroundPool()

    def divide(a: int, b: int) -> float:
        return a / b

    async def run() -> float:
        with pytest.raises(ZeroDivisionError):
            await pool.run(divide, 1, 0)
        return await pool.run(divide, 6, b=3)

    try:
        assert asyncio.run(run()) == 2.0
    finally:
        pool.close()
