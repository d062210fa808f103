"""Admission control: refuse at once what would wait longer than the queue budget."""

from __future__ import annotations

import math
from dataclasses import dataclass

from voxserve.errors import Overloaded


class ServiceTimeEstimate:
    """Exponentially weighted mean of seconds per segment, per engine."""

    def __init__(self, initial_s: float = 0.2, weight: float = 0.1) -> None:
        self.mean_s = initial_s
        self._weight = weight
        self.observations = 0

    def observe(self, seconds_per_segment: float) -> None:
        if self.observations == 0:
            self.mean_s = seconds_per_segment
        else:
            self.mean_s += self._weight * (seconds_per_segment - self.mean_s)
        self.observations += 1


@dataclass(frozen=True, slots=True)
class AdmissionLimits:
    max_queue_segments: int
    queue_budget_s: float


def check_admission(
    *,
    engine: str,
    limits: AdmissionLimits,
    queued_total: int,
    ahead: int,
    replicas: int,
    estimate: ServiceTimeEstimate,
    budget_s: float | None = None,
) -> float:
    """Estimated wait in seconds for a new request; raises ``Overloaded`` when refused.

    ``ahead`` counts segments that would run before the new request's first one (queued at
    its priority or above, plus those running now).
    """
    if queued_total >= limits.max_queue_segments:
        raise Overloaded(
            f"engine '{engine}' queue is full ({queued_total} segments waiting)",
            retry_after_s=max(1.0, estimate.mean_s * queued_total / replicas),
            reason="queue_full",
        )
    estimated_wait_s = estimate.mean_s * ahead / replicas
    allowed_s = limits.queue_budget_s if budget_s is None else min(budget_s, limits.queue_budget_s)
    if estimated_wait_s > allowed_s:
        raise Overloaded(
            f"engine '{engine}' is busy: estimated wait {estimated_wait_s:.1f} s exceeds the "
            f"queue budget of {allowed_s:.1f} s",
            retry_after_s=max(1.0, math.ceil(estimated_wait_s - allowed_s)),
            reason="queue_budget",
        )
    return estimated_wait_s
