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

A second segment that arrives while the wide session runs would wait for all of it (two
clients arriving together after a quiet spell). When the engine can stop a run
(``InterruptibleEngine``) and the wide run has delivered no audio yet, it is stopped and its
segment runs again on a replica beside the newcomer, if that finishes the two sooner
(:func:`interrupt_wide`); the stopped run's audio is never delivered.
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


def interrupt_wide(*, elapsed_s: float, wide_s: float, replica_s: float) -> bool:
    """Whether to stop a wide run ``elapsed_s`` into its estimated ``wide_s`` because a
    second segment arrived (``replica_s``: the run's segment on one replica).

    Letting it finish, the two segments end at ``wide_s`` and ``wide_s + replica_s`` (the
    newcomer, about as long, waits, then runs on a replica); stopping it, both end at about
    ``elapsed_s + replica_s`` (each on a replica). Stop when that sum of completion times is
    smaller: ``elapsed_s < wide_s - replica_s / 2``.
    """
    return wide_s > 0 and elapsed_s < wide_s - replica_s / 2
