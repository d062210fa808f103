"""A priority queue of segment tasks: interactive before batch, first come first served within."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass

from voxserve.scheduler.task import Priority, SegmentTask

#: Seconds before batch work may start on the asking consumer (0 or less: it may now).
BatchGate = Callable[[], float]


@dataclass(eq=False, slots=True)
class _Idle:
    """An idle consumer and whether it takes batch work (else interactive work only)."""

    waiter: asyncio.Future[None]
    takes_batch: bool

    def takes(self, task: SegmentTask) -> bool:
        return self.takes_batch or task.priority == Priority.INTERACTIVE


class SegmentQueue:
    """Lives on the event loop (no locks). Cancelled tasks are dropped when they reach the front."""

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, SegmentTask]] = []
        self._order = itertools.count()
        #: Orders of tasks put back at the front (before every task of their priority).
        self._front = itertools.count(-1, -1)
        self._waiting: dict[Priority, int] = dict.fromkeys(Priority, 0)
        #: Characters of segment text waiting, per priority (admission estimates from them).
        self._chars: dict[Priority, int] = dict.fromkeys(Priority, 0)
        self._changed = asyncio.Event()
        #: Idle consumers, most recently idle last: a new task wakes that one, so under light
        #: load one replica keeps doing the work with its caches warm (measured: alternating
        #: between two Piper sessions costs ~7 % CPU per sentence).
        self._idle: list[_Idle] = []

    def __len__(self) -> int:
        return sum(self._waiting.values())

    def waiting(self, priority: Priority) -> int:
        return self._waiting[priority]

    def waiting_at_or_above(self, priority: Priority) -> int:
        """Tasks that would run before a new task of ``priority``."""
        return sum(count for p, count in self._waiting.items() if p <= priority)

    def chars_at_or_above(self, priority: Priority) -> int:
        """Characters of the tasks that would run before a new task of ``priority``."""
        return sum(chars for p, chars in self._chars.items() if p <= priority)

    def put(self, task: SegmentTask, *, front: bool = False) -> None:
        """Queue ``task`` after the tasks of its priority, or before them with ``front``
        (a task whose run was stopped before its first audio goes back first)."""
        order = next(self._front) if front else next(self._order)
        heapq.heappush(self._heap, (int(task.priority), order, task))
        self._waiting[task.priority] += 1
        self._chars[task.priority] += task.chars
        self._changed.set()
        for position in range(len(self._idle) - 1, -1, -1):
            idle = self._idle[position]
            if not idle.waiter.done() and idle.takes(task):
                del self._idle[position]
                idle.waiter.set_result(None)
                break

    def forget(self, task: SegmentTask) -> None:
        """Account for a queued task that was cancelled (it stays in the heap until popped)."""
        self._waiting[task.priority] -= 1
        self._chars[task.priority] -= task.chars

    async def get(self, batch_gate: BatchGate | None = None) -> SegmentTask:
        """The next live task, waiting for one if needed (the last consumer to go idle is
        the first woken).

        ``batch_gate`` says how long this consumer must still leave batch tasks alone: while
        it is positive only interactive tasks are taken, and the wait ends when it lapses.
        """
        loop = asyncio.get_running_loop()
        while True:
            batch_wait_s = batch_gate() if batch_gate is not None else 0.0
            takes_batch = batch_wait_s <= 0
            task = self.pop_nowait(max_priority=None if takes_batch else Priority.INTERACTIVE)
            if task is not None:
                return task
            idle = _Idle(loop.create_future(), takes_batch)
            self._idle.append(idle)
            try:
                if takes_batch:
                    await idle.waiter
                else:
                    await asyncio.wait({idle.waiter}, timeout=batch_wait_s)
            finally:
                if idle in self._idle:
                    self._idle.remove(idle)

    def pop_nowait(
        self,
        matching: Callable[[SegmentTask], bool] | None = None,
        *,
        max_priority: Priority | None = None,
    ) -> SegmentTask | None:
        """Pop the first live task (optionally the first live one ``matching``, or only one
        of ``max_priority`` or more urgent), or None."""
        self._drop_cancelled_front()
        if not self._heap:
            return None
        if max_priority is not None and self._heap[0][2].priority > max_priority:
            return None
        if matching is None:
            _, _, task = heapq.heappop(self._heap)
            self._waiting[task.priority] -= 1
            self._chars[task.priority] -= task.chars
            return task
        for _, _, task in sorted(self._heap, key=lambda entry: entry[:2]):
            if not task.cancelled and matching(task):
                self._remove(task)
                return task
        return None

    async def wait_for_more(self, timeout_s: float) -> None:
        """Return when a task is added or ``timeout_s`` passes."""
        self._changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout_s)

    def _drop_cancelled_front(self) -> None:
        while self._heap and self._heap[0][2].cancelled:
            heapq.heappop(self._heap)

    def _remove(self, task: SegmentTask) -> None:
        self._heap = [entry for entry in self._heap if entry[2] is not task]
        heapq.heapify(self._heap)
        self._waiting[task.priority] -= 1
        self._chars[task.priority] -= task.chars
