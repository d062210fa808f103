"""Exponential backoff shared by the task queues and the webhook notifier."""

from __future__ import annotations


def retry_delay_s(base_delay_ms: float, attempt: int) -> float:
    """Backoff before delivery ``attempt + 1``: base, 2×base, 4×base … (capped at 5 min)."""
    return float(min(base_delay_ms / 1000 * 2 ** max(attempt - 1, 0), 300.0))
