"""Per-engine scheduling: one priority queue feeding N engine replicas, with optional batching.

The queue and all bookkeeping live on the event loop; each replica owns one engine instance
(its own runtime and thread budget) and one thread that runs it, so blocking model calls
never touch the loop. Work is per segment: a long request holds at most two queued
segments at a time, so short requests interleave with it instead of waiting for all of it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Hashable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from voxserve import metrics
from voxserve.engines.base import BatchingEngine, Engine, InterruptibleEngine, SegmentRequest
from voxserve.errors import EngineFailed, NotReady, Overloaded, VoxserveError
from voxserve.scheduler.admission import (
    AdmissionLimits,
    FirstAudioCalibration,
    FirstAudioEstimate,
    RunningWork,
    SecondsPerChar,
    check_admission,
    estimate_wait_s,
)
from voxserve.scheduler.layout import CONCURRENCY_WINDOW_S, interrupt_wide, run_on_wide
from voxserve.scheduler.queue import SegmentQueue
from voxserve.scheduler.task import Priority, SegmentTask
from voxserve.settings import Settings

logger = logging.getLogger(__name__)

#: Requests admitted with an estimated first audio of at least this share of the queue budget
#: teach the calibration (FirstAudioCalibration): the decisions that matter are near it.
_CALIBRATION_MIN_BUDGET_SHARE = 0.25


@dataclass(frozen=True, slots=True)
class _RunResult:
    busy_s: float
    #: CPU time of the replica thread during the call
    cpu_s: float
    audio_s: float
    segments: int
    failed: bool
    #: characters of the segments' text
    chars: int = 0
    #: a wide run stopped before its first audio (the task goes back to the queue)
    interrupted: bool = False


class _WideRun:
    """The segment on the wide session: its first audio and an interruption exclude each
    other (under a lock shared by the replica thread and the event loop), so a stopped run
    never delivers anything and a run that has delivered is never stopped."""

    def __init__(self, task: SegmentTask) -> None:
        self.task = task
        self.started_at_s = time.monotonic()
        self._lock = threading.Lock()
        self._delivered = False
        self.interrupted = False

    def claim_delivery(self) -> bool:
        """Replica thread, before each chunk: False once the run was interrupted."""
        with self._lock:
            if self.interrupted:
                return False
            self._delivered = True
            return True

    def interrupt(self) -> bool:
        """Event loop: mark the run stopped, unless it has delivered audio already."""
        with self._lock:
            if self._delivered:
                return False
            self.interrupted = True
            return True


class QueueReservation:
    """A place in an engine's queue held for an admitted request until its first segment is
    queued (or it needs none: a cache hit, a client gone). Admission counts held places, so
    a burst of requests admitted together cannot overfill the queue before any of them is
    queued. :meth:`release` is idempotent."""

    def __init__(
        self, scheduler: EngineScheduler, chars: int = 0, total_chars: int = 0,
        first_audio: FirstAudioEstimate | None = None,
    ) -> None:
        self._scheduler: EngineScheduler | None = scheduler
        #: The estimated length of the request's first segment (counted as queued work).
        self.chars = chars
        #: Admission's estimate of its time to first audio, where the calibration counts it.
        self.first_audio = first_audio
        #: All of the request's work, until its stream ends (outlives the reservation).
        self.backlog = Backlog(scheduler, max(chars, total_chars))

    def release(self) -> None:
        if self._scheduler is not None:
            self._scheduler._reserved -= 1
            self._scheduler._reserved_chars -= self.chars
            self._scheduler = None


class Backlog:
    """The characters an admitted request has still to synthesize (all its segments, not
    only the queued one): ``Retry-After`` says when the admitted work will have drained
    enough for a new request to fit the budget. :meth:`done` as segments finish,
    :meth:`close` (idempotent) when the stream ends."""

    def __init__(self, scheduler: EngineScheduler, chars: int) -> None:
        self._scheduler: EngineScheduler | None = scheduler
        self._left = max(0, chars)
        scheduler._backlog_chars += self._left

    def done(self, chars: int) -> None:
        if self._scheduler is not None:
            taken = min(self._left, max(0, chars))
            self._left -= taken
            self._scheduler._backlog_chars -= taken

    def close(self) -> None:
        if self._scheduler is not None:
            self._scheduler._backlog_chars -= self._left
            self._left = 0
            self._scheduler = None


class EngineScheduler:
    """Queue, admission control and replicas for one engine."""

    def __init__(
        self,
        name: str,
        replicas: Sequence[Engine],
        limits: AdmissionLimits,
        max_batch_size: int,
        max_queue_delay_s: float,
        interactive_reserve_s: float = 0.0,
        wide: Engine | None = None,
    ) -> None:
        if not replicas:
            raise ValueError(f"engine '{name}' has no replicas")
        self.name = name
        self.limits = limits
        self._replicas = list(replicas)
        primary = self._replicas[0]
        self._batching = primary.capabilities.batching_gain and isinstance(primary, BatchingEngine)
        self.max_batch_size = (
            min(max_batch_size, primary.capabilities.max_batch_size) if self._batching else 1
        )
        self._max_queue_delay_s = max_queue_delay_s
        self._queue = SegmentQueue()
        self._running: dict[Priority, int] = dict.fromkeys(Priority, 0)
        #: Admitted requests whose first segment is not queued yet (see QueueReservation).
        self._reserved = 0
        self._reserved_chars = 0
        #: Characters admitted requests have still to synthesize (see Backlog).
        self._backlog_chars = 0
        #: Segments being synthesized, for the estimate of the work left (see admission.py).
        self._running_work: dict[SegmentTask, RunningWork] = {}
        #: The all-core instance (layout.py), gang-scheduled with the replicas.
        self._wide = wide
        self._wide_busy = False
        self._wide_run: _WideRun | None = None
        self._wide_idle = asyncio.Event()
        self._wide_idle.set()
        #: Tasks taken from the queue that wait for the wide session to finish.
        self._held: set[SegmentTask] = set()
        #: When two segments were last runnable at once (layout.py: the replicas keep the
        #: work for a while after).
        self._concurrent_at_s = -float("inf")
        #: One replica is kept from batch work this long after an interactive submission
        #: (only with two replicas or more: a lone replica is never held back).
        self._interactive_reserve_s = interactive_reserve_s if len(self._replicas) > 1 else 0.0
        self._interactive_window_s = interactive_reserve_s
        self._last_interactive_s = -float("inf")
        #: Replicas whose current work is a batch-priority segment.
        self._batch_replicas = 0
        #: Seconds per character of a replica, and of the wide session (learned online,
        #: started from the engines' warm-up where they measured it).
        self.estimate = SecondsPerChar()
        self.wide_estimate = SecondsPerChar()
        #: Real over estimated times to first audio near the budget (admission.py).
        self.calibration = FirstAudioCalibration(
            min_estimate_s=limits.queue_budget_s * _CALIBRATION_MIN_BUDGET_SHARE
        )
        self.estimate.seed(_warmup_rate(primary))
        if wide is not None:
            self.wide_estimate.seed(_warmup_rate(wide))
        self._executors = [
            ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{name}-replica{index}")
            for index in range(len(self._replicas))
        ]
        self._wide_executor = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{name}-wide")
            if wide is not None else None
        )
        self._loops: list[asyncio.Task[None]] = []

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        self._loops = [
            asyncio.create_task(self._replica_loop(index), name=f"{self.name}-replica{index}")
            for index in range(len(self._replicas))
        ]

    async def stop(self) -> None:
        for loop_task in self._loops:
            loop_task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        for executor in self._executors:
            executor.shutdown(wait=False, cancel_futures=True)
        if self._wide_executor is not None:
            self._wide_executor.shutdown(wait=False, cancel_futures=True)

    # --- requester side -------------------------------------------------------------------

    @property
    def replicas(self) -> int:
        return len(self._replicas)

    def queued(self, priority: Priority | None = None) -> int:
        return len(self._queue) if priority is None else self._queue.waiting(priority)

    def running(self) -> int:
        return sum(self._running.values())

    def interactive_recent(self) -> bool:
        """An interactive segment was submitted within ``interactive_reserve_s``."""
        return time.monotonic() - self._last_interactive_s < self._interactive_window_s

    def reserved(self) -> int:
        """Admitted requests whose first segment is not queued yet."""
        return self._reserved

    @property
    def has_wide(self) -> bool:
        """Whether this engine has an all-core instance for lone segments (layout.py)."""
        return self._wide is not None

    def backlog_s(self) -> float:
        """Seconds of work admitted requests have left (all their segments), over the
        replicas."""
        return self._backlog_chars * self.estimate.value / len(self._replicas)

    def estimated_wait_s(self, priority: Priority, now_s: float | None = None) -> float:
        """Seconds before a new segment of ``priority`` would start: the characters queued
        at its priority or above, held by admitted requests, and left of the running
        segments, at the learned seconds per character, spread over the replicas."""
        return estimate_wait_s(
            queued_chars=self._queue.chars_at_or_above(priority) + self._reserved_chars,
            running=self._running_work.values(),
            replicas=len(self._replicas),
            seconds_per_char=self.estimate.value,
            now_s=time.monotonic() if now_s is None else now_s,
        )

    def admit(
        self, priority: Priority, budget_s: float | None = None, chars: int = 0
    ) -> float:
        """Estimated time to a new request's first audio (its first segment has ``chars``
        characters); raises ``Overloaded`` to refuse, with the estimated wait as
        ``retry_after_s``.

        Work held by admitted requests counts as queued (see :meth:`reserve`). The place
        limit (``max_queue_segments``) leaves out the places idle replicas start at once.
        Segments of a lower priority do not count: queued document conversions never make
        the engine refuse an interactive request (it runs before them).
        """
        waiting = self._queue.waiting_at_or_above(priority) + self._reserved
        idle_replicas = max(0, len(self._replicas) - self.running())
        wait_s = self.estimated_wait_s(priority)
        alone = self._wide is not None and waiting == 0 and self.running() == 0
        own_rate = self.wide_estimate.value if alone else self.estimate.value
        try:
            return check_admission(
                engine=self.name,
                limits=self.limits,
                queued_segments=max(0, waiting - idle_replicas),
                wait_s=wait_s,
                own_s=chars * own_rate,
                budget_s=budget_s,
                backlog_s=self.backlog_s(),
                calibration=self.calibration.factor,
            )
        except Overloaded as refusal:
            metrics.REJECTED.labels(self.name, refusal.reason).inc()
            raise

    def reserve(
        self, priority: Priority, budget_s: float | None = None, chars: int = 0,
        total_chars: int = 0,
    ) -> QueueReservation:
        """Admit a request whose first segment has about ``chars`` characters, of
        ``total_chars`` in all (raises ``Overloaded``), and hold its place until that segment
        is submitted with the reservation, or the reservation is released; its
        ``backlog`` counts its work until the caller closes it."""
        estimate_s = self.admit(priority, budget_s, chars)
        self._reserved += 1
        self._reserved_chars += chars
        first_audio = (FirstAudioEstimate(estimate_s, time.monotonic())
                       if self.calibration.counts(estimate_s) else None)
        return QueueReservation(self, chars, total_chars, first_audio)

    def submit(
        self, request: SegmentRequest, priority: Priority,
        reservation: QueueReservation | None = None,
    ) -> SegmentTask:
        task = SegmentTask(request=request, priority=priority, loop=asyncio.get_running_loop())
        if priority == Priority.INTERACTIVE:
            self._last_interactive_s = time.monotonic()
        if reservation is not None:
            task.first_audio_estimate = reservation.first_audio
        self._queue.put(task)
        if reservation is not None:
            reservation.release()  # the place is taken by the task itself now
        self._update_gauges()
        return task

    def cancel(self, task: SegmentTask) -> None:
        """Drop a queued task, or stop a running one after its current chunk."""
        if task.cancelled:
            return
        if task.started_at_s is None and task not in self._held:
            self._queue.forget(task)
        task.cancel()
        self._update_gauges()

    # --- replica side ---------------------------------------------------------------------

    async def _replica_loop(self, index: int) -> None:
        loop = asyncio.get_running_loop()
        while True:
            first = await self._queue.get(self._batch_wait_s)
            if self._wide_busy:  # gang: no replica runs alongside the all-core session
                if not self._wide_delivered_all():  # else the two only follow each other
                    self._concurrent_at_s = time.monotonic()
                    self._interrupt_wide_if_sooner()
                self._held.add(first)
                try:
                    while not self._wide_idle.is_set():
                        await self._wide_idle.wait()
                finally:
                    self._held.discard(first)
                if first.cancelled:
                    continue
            batch = [first]
            if self._batching and self.max_batch_size > 1:
                batch += await self._gather_batch(self._replicas[index], first)
            synthesizing = self._synthesizing()
            alone = synthesizing == 0 and not self._held and not len(self._queue)
            now = time.monotonic()
            if not alone:
                self._concurrent_at_s = now
            wide = run_on_wide(
                has_wide=self._wide is not None, batch_size=len(batch),
                running=synthesizing, held=len(self._held), queued=len(self._queue),
                concurrent_recently=now - self._concurrent_at_s < CONCURRENCY_WINDOW_S,
            )
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug("%s: segment of %d chars on %s (running %d, held %d, queued %d)",
                             self.name, first.chars, "wide" if wide else f"replica{index}",
                             self.running(), len(self._held), len(self._queue))
            wide_run: _WideRun | None = None
            if wide:
                assert self._wide is not None and self._wide_executor is not None
                engine, executor = self._wide, self._wide_executor
                self._wide_busy = True
                self._wide_run = wide_run = _WideRun(first)
                self._wide_idle.clear()
            else:
                engine, executor = self._replicas[index], self._executors[index]
            holds_batch_work = first.priority == Priority.BATCH
            self._batch_replicas += holds_batch_work
            self._start(batch, wide)
            try:
                if len(batch) == 1:
                    result = await loop.run_in_executor(
                        executor, _run_single, engine, first, wide_run
                    )
                else:
                    result = await loop.run_in_executor(executor, _run_batch, engine, batch)
                self._record(result, len(batch), wide)
                self._calibrate(batch)
                if result.interrupted:
                    self._put_back(first)
            except Exception:  # the runners report to tasks themselves; this is a bug guard
                logger.exception("replica %s of %s failed", index, self.name)
            finally:
                if wide:
                    self._wide_busy = False
                    self._wide_run = None
                    self._wide_idle.set()
                self._batch_replicas -= holds_batch_work
                for task in batch:
                    self._running[task.priority] -= 1
                    self._running_work.pop(task, None)
                self._update_gauges()

    def _synthesizing(self) -> int:
        """Running segments whose audio is not all delivered yet: a run that has delivered
        its last chunk is only waiting for its thread to return. A client's next segment,
        submitted as the previous one's audio arrives, follows it rather than runs beside
        it (one client's paragraph stays on the all-core session)."""
        return sum(1 for task in self._running_work if not task.delivered_all)

    def _wide_delivered_all(self) -> bool:
        run = self._wide_run
        return run is not None and run.task.delivered_all

    def _interrupt_wide_if_sooner(self) -> None:
        """A second segment arrived while the wide session runs one: stop that run if it
        has delivered nothing and both would finish sooner on replicas (layout.py)."""
        run = self._wide_run
        if run is None or not isinstance(self._wide, InterruptibleEngine):
            return
        chars = run.task.chars
        if interrupt_wide(
            elapsed_s=time.monotonic() - run.started_at_s,
            wide_s=chars * self.wide_estimate.value, replica_s=chars * self.estimate.value,
        ) and run.interrupt():
            metrics.WIDE_INTERRUPTS.labels(self.name).inc()
            self._wide.interrupt()

    def _put_back(self, task: SegmentTask) -> None:
        """A wide run stopped before its first audio: the segment goes back to the front of
        the queue (a replica takes it at once), or ends if its client left meanwhile."""
        if task.cancelled:
            task.finish()
            return
        task.started_at_s = None
        self._queue.put(task, front=True)

    def _batch_wait_s(self) -> float:
        """How long batch work must still wait for a replica (0: it may start now).

        Batch segments may occupy every replica but one while interactive requests came in
        the last ``interactive_reserve_s``: the next interactive request then finds a
        replica free instead of waiting for a batch segment to finish (engines are not
        preemptible). Without recent interactive traffic batch work uses every replica.
        """
        if (not self._interactive_reserve_s
                or self._batch_replicas < len(self._replicas) - 1):
            return 0.0
        return self._last_interactive_s + self._interactive_reserve_s - time.monotonic()

    async def _gather_batch(self, engine: Engine, first: SegmentTask) -> list[SegmentTask]:
        """More queued tasks with the same batch key, waiting up to ``max_queue_delay``."""
        assert isinstance(engine, BatchingEngine)
        key = _batch_key(engine, first.request)
        gathered: list[SegmentTask] = []
        deadline = time.monotonic() + self._max_queue_delay_s
        while len(gathered) + 1 < self.max_batch_size:
            task = self._queue.pop_nowait(lambda t: _batch_key(engine, t.request) == key)
            if task is not None:
                gathered.append(task)
                continue
            remaining_s = deadline - time.monotonic()
            if remaining_s <= 0:
                break
            await self._queue.wait_for_more(remaining_s)
        return gathered

    def _start(self, batch: list[SegmentTask], wide: bool = False) -> None:
        now = time.monotonic()
        rate = (self.wide_estimate if wide else self.estimate).value
        for task in batch:
            task.started_at_s = now
            self._running[task.priority] += 1
            self._running_work[task] = RunningWork(task.chars, now, rate, wide)
            metrics.QUEUE_WAIT.labels(self.name, task.priority.label).observe(
                now - task.enqueued_at_s
            )
        self._update_gauges()

    def _record(self, result: _RunResult, batch_size: int, wide: bool = False) -> None:
        metrics.BATCH_SIZE.labels(self.name).observe(batch_size)
        metrics.ENGINE_BUSY.labels(self.name).inc(result.busy_s)
        metrics.ENGINE_CPU.labels(self.name).inc(result.cpu_s)
        if result.failed:
            return
        if result.segments:
            (self.wide_estimate if wide else self.estimate).observe(result.busy_s, result.chars)
        if result.audio_s > 0:
            metrics.AUDIO_SECONDS.labels(self.name).inc(result.audio_s)
            metrics.REAL_TIME_FACTOR.labels(self.name).observe(result.busy_s / result.audio_s)

    def _calibrate(self, batch: list[SegmentTask]) -> None:
        """Teach admission's calibration how long the batch's admitted requests really
        waited for their first audio (each request once: its first segment's first run
        that delivered audio)."""
        for task in batch:
            estimate = task.first_audio_estimate
            if estimate is None or task.first_audio_at_s is None:
                continue
            task.first_audio_estimate = None
            self.calibration.observe(estimate.estimated_s,
                                     task.first_audio_at_s - estimate.admitted_at_s)
            metrics.ADMISSION_CALIBRATION.labels(self.name).set(self.calibration.factor)

    def _update_gauges(self) -> None:
        for priority in Priority:
            metrics.QUEUE_DEPTH.labels(self.name, priority.label).set(self._queue.waiting(priority))
            metrics.IN_FLIGHT.labels(self.name, priority.label).set(self._running[priority])


def _warmup_rate(engine: Engine) -> float:
    """Seconds per character the engine measured in its warm-up (0: it did not)."""
    rate = getattr(engine, "warmup_seconds_per_char", 0.0)
    return float(rate) if isinstance(rate, int | float) else 0.0


def _batch_key(engine: BatchingEngine, request: SegmentRequest) -> Hashable:
    return engine.batch_key(request.voice_id, request.params)


def _engine_error(engine: Engine, error: Exception) -> VoxserveError:
    if isinstance(error, VoxserveError) and not isinstance(error, EngineFailed):
        return error  # e.g. an invalid option only the engine could check: the client's fault
    metrics.ENGINE_ERRORS.labels(engine.name).inc()
    if isinstance(error, EngineFailed):
        return error
    logger.exception("engine %s raised", engine.name, exc_info=error)
    return EngineFailed(f"engine '{engine.name}' failed: {error}")


def _run_single(engine: Engine, task: SegmentTask, wide: _WideRun | None = None) -> _RunResult:
    """Runs on the replica's thread: stream one segment's chunks back to its task. A wide
    run that was interrupted before its first audio (``wide``) delivers nothing and leaves
    the task open for another run."""
    started = time.monotonic()
    cpu_started = time.thread_time()
    audio_s = 0.0
    request = task.request
    if wide is not None and wide.interrupted:  # before this thread even started it
        return _RunResult(0.0, 0.0, 0.0, 1, failed=True, interrupted=True)
    try:
        chunks = engine.synthesize(request.text, request.voice_id, request.params)
        try:
            for chunk in chunks:
                if task.cancelled or (wide is not None and not wide.claim_delivery()):
                    break
                audio_s += chunk.duration_s
                task.deliver(chunk)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
    except Exception as error:
        if wide is not None and wide.interrupted:
            return _RunResult(time.monotonic() - started, time.thread_time() - cpu_started,
                              0.0, 1, failed=True, interrupted=True)
        task.fail(_engine_error(engine, error))
        return _RunResult(time.monotonic() - started, time.thread_time() - cpu_started,
                          audio_s, 1, failed=True)
    if wide is not None and wide.interrupted:
        return _RunResult(time.monotonic() - started, time.thread_time() - cpu_started,
                          0.0, 1, failed=True, interrupted=True)
    task.finish()
    return _RunResult(time.monotonic() - started, time.thread_time() - cpu_started, audio_s, 1,
                      failed=task.cancelled, chars=task.chars)


def _run_batch(engine: Engine, batch: list[SegmentTask]) -> _RunResult:
    """Runs on the replica's thread: one batched engine call, results routed to each task."""
    assert isinstance(engine, BatchingEngine)
    started = time.monotonic()
    cpu_started = time.thread_time()
    try:
        results = engine.synthesize_batch([task.request for task in batch])
        if len(results) != len(batch):
            raise EngineFailed(f"{engine.name} returned {len(results)} results for {len(batch)}")
    except Exception as error:
        failure = _engine_error(engine, error)
        for task in batch:
            task.fail(failure)
        return _RunResult(time.monotonic() - started, time.thread_time() - cpu_started, 0.0,
                          len(batch), failed=True)
    audio_s = 0.0
    for task, chunks in zip(batch, results, strict=True):
        for chunk in chunks:
            audio_s += chunk.duration_s
            task.deliver(chunk)
        task.finish()
    return _RunResult(time.monotonic() - started, time.thread_time() - cpu_started, audio_s,
                      len(batch), failed=False, chars=sum(task.chars for task in batch))


class Scheduler:
    """The engine schedulers of one process, created once the engines are loaded."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._engines: dict[str, EngineScheduler] = {}

    def start(
        self,
        replicas_by_engine: Mapping[str, Sequence[Engine]],
        wide_by_engine: Mapping[str, Engine] | None = None,
    ) -> None:
        """One scheduler per engine; ``wide_by_engine``: the all-core instances of the
        engines that have one (``EngineCatalog.wide``, see layout.py)."""
        wide_by_engine = wide_by_engine or {}
        for name, replicas in replicas_by_engine.items():
            config = self._settings.scheduling_for(name)
            scheduler = EngineScheduler(
                name,
                replicas,
                AdmissionLimits(
                    max_queue_segments=config.max_queue_segments,
                    queue_budget_s=config.queue_budget_ms / 1000,
                ),
                max_batch_size=config.max_batch_size,
                max_queue_delay_s=config.max_queue_delay_ms / 1000,
                interactive_reserve_s=self._settings.interactive_reserve_s,
                wide=wide_by_engine.get(name),
            )
            scheduler.start()
            self._engines[name] = scheduler

    @property
    def started(self) -> bool:
        return bool(self._engines)

    def interactive_recent(self) -> bool:
        """Interactive requests came in lately (see ``interactive_reserve_s``), on any engine:
        background work of this process should yield to them."""
        return any(engine.interactive_recent() for engine in self._engines.values())

    def engine(self, name: str) -> EngineScheduler:
        scheduler = self._engines.get(name)
        if scheduler is None:
            raise NotReady(f"engine '{name}' is not scheduled yet")
        return scheduler

    async def stop(self) -> None:
        await asyncio.gather(*(s.stop() for s in self._engines.values()))
        self._engines.clear()
