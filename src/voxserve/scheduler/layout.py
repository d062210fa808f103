"""Adaptive use of the cores: one segment alone gets every core, several get a replica each.

A CPU engine has N single-thread replicas (N = usable CPUs) and, with
``VOXSERVE_ADAPTIVE_THREADS``, one more instance whose runtime uses every core (the *wide*
session). They are gang-scheduled: the wide session runs only when exactly one segment is
runnable and every replica is idle, and no replica starts while it runs, so the cores are
never oversubscribed. One client then gets the latency of the all-core engine, several
clients the throughput of one replica per core.
"""

from __future__ import annotations


def run_on_wide(*, has_wide: bool, batch_size: int, running: int, held: int, queued: int) -> bool:
    """Whether the segment just taken from the queue runs on the wide session.

    ``running``: segments being synthesized now; ``held``: other segments taken from the
    queue and waiting for the wide session to finish; ``queued``: segments still queued.
    """
    return has_wide and batch_size == 1 and running == 0 and held == 0 and queued == 0
