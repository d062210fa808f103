"""Admission control: refuse at once what would wait longer than the queue budget.

The wait is estimated from the work actually ahead of a new request, in characters of
segment text (queued, held by admitted requests, and what is left of the running
segments) turned into seconds with a per-engine, per-layout seconds-per-character rate
learned online from real synthesis times (started from the engine's warm-up). Sentences
differ in length by a factor of ten, so counting places instead of characters misjudges a
queue of paragraphs by as much.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

from voxserve.errors import Overloaded

#: Seconds per character before anything was measured (Piper on one core: ~2.5 ms).
DEFAULT_SECONDS_PER_CHAR = 0.003

#: The end of a first sentence, for the cheap estimate of its length (no sentence splitter).
_SENTENCE_END = re.compile(r"[.!?;:](?:\s|$)")


class SecondsPerChar:
    """Exponentially weighted mean of engine seconds per character of segment text.

    :meth:`seed` sets the start value (the engine's warm-up) without counting as a real
    observation; the first real observation then replaces a default, not a seeded value.
    """

    def __init__(self, initial: float = DEFAULT_SECONDS_PER_CHAR, weight: float = 0.2) -> None:
        self.value = initial
        self._weight = weight
        self._seeded = False
        self.observations = 0

    def seed(self, seconds_per_char: float) -> None:
        if seconds_per_char > 0 and self.observations == 0:
            self.value = seconds_per_char
            self._seeded = True

    def observe(self, busy_s: float, chars: int) -> None:
        if chars <= 0 or busy_s <= 0:
            return
        sample = busy_s / chars
        if self.observations == 0 and not self._seeded:
            self.value = sample
        else:
            self.value += self._weight * (sample - self.value)
        self.observations += 1


class FirstAudioCalibration:
    """How far real times to first audio run over admission's estimates, learned online.

    The estimate is a mean: admitting every request whose estimate fits the budget lets about
    half of those admitted near the budget overrun it. :attr:`factor` tracks the ``quantile``
    (0.95) of real / estimated time to first audio, a stochastic-approximation quantile (each
    observation above it raises it by ``step x quantile``, each below lowers it by
    ``step x (1 - quantile)``), within ``[lower, upper]``; admission compares
    ``estimate x factor`` with the budget, so that this share of admitted requests reaches
    first audio within it. Only requests admitted with an estimate of at least
    ``min_estimate_s`` count: those are the decisions near the budget, where one sentence's
    noise is small against the wait.

    Event-loop only (the scheduler observes after a run), like the rest of admission.
    """

    def __init__(
        self, min_estimate_s: float, quantile: float = 0.95, step: float = 0.05,
        lower: float = 0.5, upper: float = 3.0,
    ) -> None:
        self.min_estimate_s = min_estimate_s
        self.factor = 1.0
        self.observations = 0
        self._quantile = quantile
        self._step = step
        self._lower = lower
        self._upper = upper

    def counts(self, estimated_s: float) -> bool:
        """Whether a request admitted with this estimate will be observed."""
        return estimated_s > 0 and estimated_s >= self.min_estimate_s

    def observe(self, estimated_s: float, actual_s: float) -> None:
        if not self.counts(estimated_s) or actual_s < 0:
            return
        above = actual_s / estimated_s > self.factor
        self.factor += self._step * (self._quantile if above else self._quantile - 1.0)
        self.factor = min(self._upper, max(self._lower, self.factor))
        self.observations += 1


@dataclass(frozen=True, slots=True)
class FirstAudioEstimate:
    """Admission's estimate of a request's time to first audio, and when it was made: what
    :class:`FirstAudioCalibration` compares with the real time once the audio comes."""

    estimated_s: float
    admitted_at_s: float


@dataclass(frozen=True, slots=True)
class AdmissionLimits:
    max_queue_segments: int
    queue_budget_s: float


@dataclass(frozen=True, slots=True)
class RunningWork:
    """A segment being synthesized: its characters, when it started, and whether it runs on
    the wide (all-core) session, which holds every replica's cores while it runs."""

    chars: int
    started_s: float
    seconds_per_char: float
    wide: bool = False


def first_segment_chars(text: str, max_segment_chars: int) -> int:
    """A cheap estimate of the length of ``text``'s first segment, before any normalization
    or sentence splitting: up to the first sentence end within ``max_segment_chars``."""
    head = text[: max_segment_chars + 1].lstrip()
    match = _SENTENCE_END.search(head)
    return max(1, match.start() + 1 if match else min(len(head), max_segment_chars))


def estimate_wait_s(
    *,
    queued_chars: int,
    running: Iterable[RunningWork],
    replicas: int,
    seconds_per_char: float,
    now_s: float,
) -> float:
    """Seconds before a new segment starts: the work ahead spread over the replicas."""
    busy_s = 0.0
    for work in running:
        left_s = max(0.0, work.chars * work.seconds_per_char - (now_s - work.started_s))
        busy_s += left_s * (replicas if work.wide else 1)
    return (busy_s + queued_chars * seconds_per_char) / max(1, replicas)


def check_admission(
    *,
    engine: str,
    limits: AdmissionLimits,
    queued_segments: int,
    wait_s: float,
    own_s: float,
    budget_s: float | None = None,
    backlog_s: float = 0.0,
    calibration: float = 1.0,
) -> float:
    """Estimated time to a new request's first audio (``wait_s`` queued, then ``own_s`` for
    its own first segment); raises ``Overloaded``, with ``retry_after_s`` the estimated
    wait, when it is refused. The estimate times ``calibration``
    (:class:`FirstAudioCalibration`) must fit the budget; the estimate returned is not
    multiplied.

    Nothing ahead (``wait_s`` 0) is never refused for the request's own length.
    ``Retry-After`` is when a retry would fit: the later of the estimated wait and the time
    the admitted requests' remaining work (``backlog_s``, all their segments over the
    replicas) needs to drain to within the budget.
    ``queued_segments`` counts segments that would wait (beyond what idle replicas start
    at once) before the new request's first one.
    """
    first_audio_s = wait_s + own_s
    allowed_s = limits.queue_budget_s if budget_s is None else min(budget_s, limits.queue_budget_s)
    allowed_s /= calibration  # the budget in the estimate's (uncalibrated) seconds
    # never more than the whole backlog: an idle engine admits anything
    drained_s = min(backlog_s, backlog_s + own_s - allowed_s)
    retry_after_s = max(1.0, math.ceil(max(wait_s, drained_s)))
    if queued_segments >= limits.max_queue_segments:
        raise Overloaded(
            f"engine '{engine}' queue is full ({queued_segments} segments waiting)",
            retry_after_s=retry_after_s,
            reason="queue_full",
        )
    if wait_s > 0 and first_audio_s > allowed_s:  # an idle engine never refuses
        raise Overloaded(
            f"engine '{engine}' is busy: estimated time to first audio "
            f"{first_audio_s * calibration:.1f} s exceeds the queue budget of "
            f"{allowed_s * calibration:.1f} s",
            retry_after_s=retry_after_s,
            reason="queue_budget",
        )
    return first_audio_s
