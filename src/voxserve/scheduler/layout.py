"""Adaptive use of the cores: one segment alone gets every core, several get a replica each.

A CPU engine has N single-thread replicas (N = usable CPUs) and, with
``VOXSERVE_ADAPTIVE_THREADS``, one more instance whose runtime uses every core (the *wide*
session). They are gang-scheduled: the wide session runs only when exactly one segment is
runnable and every replica is idle, and no replica starts while it runs, so the cores are
never oversubscribed. One client then gets the latency of the all-core engine, several
clients the throughput of one replica per core.

Several clients are not always runnable at the same instant (each waits for its answer
before it sends again), so a lone segment goes wide only when no other segment was seen
runnable within ``CONCURRENCY_WINDOW_S``: two clients alternating would otherwise run one
after the other on the all-core session, which is slower than two replicas at once on a
busy machine (its threads wait for each other at every operator).
"""

from __future__ import annotations

#: How long after seeing two segments runnable at once the replicas keep the work.
CONCURRENCY_WINDOW_S = 1.0


def run_on_wide(
    *, has_wide: bool, batch_size: int, running: int, held: int, queued: int,
    concurrent_recently: bool = False,
) -> bool:
    """Whether the segment just taken from the queue runs on the wide session.

    ``running``: segments being synthesized now; ``held``: other segments taken from the
    queue and waiting for the wide session to finish; ``queued``: segments still queued;
    ``concurrent_recently``: another segment was runnable beside one within
    :data:`CONCURRENCY_WINDOW_S`.
    """
    return (has_wide and batch_size == 1 and running == 0 and held == 0 and queued == 0
            and not concurrent_recently)
