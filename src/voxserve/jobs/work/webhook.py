"""Project notifications: POST ``{project_id, state, …}`` to the project's webhook URL.

Sent in the background with retries and exponential backoff; a failing endpoint never
affects the project.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx

from voxserve.jobs.tasks.retry import retry_delay_s

logger = logging.getLogger(__name__)

#: First retry after this long; then doubled each time.
WEBHOOK_BASE_DELAY_MS = 1000.0


class WebhookNotifier:
    def __init__(
        self, *, timeout_s: float = 10.0, max_attempts: int = 5,
        base_delay_ms: float = WEBHOOK_BASE_DELAY_MS,
    ) -> None:
        self.timeout_s = timeout_s
        self.max_attempts = max_attempts
        self.base_delay_ms = base_delay_ms
        self._pending: set[asyncio.Task[bool]] = set()

    def notify(self, url: str | None, payload: dict[str, Any]) -> None:
        """Send in the background (no-op without a URL)."""
        if not url:
            return
        task = asyncio.create_task(self.send(url, payload))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def send(self, url: str, payload: dict[str, Any]) -> bool:
        """POST until a 2xx answer or ``max_attempts``; True when delivered."""
        async with httpx.AsyncClient(timeout=self.timeout_s) as client:
            for attempt in range(1, self.max_attempts + 1):
                try:
                    response = await client.post(
                        url, json=payload, headers={"User-Agent": "voxserve-webhook"}
                    )
                    if response.is_success:
                        return True
                    reason = f"HTTP {response.status_code}"
                except httpx.HTTPError as exc:
                    reason = f"{type(exc).__name__}: {exc}"
                if attempt < self.max_attempts:
                    await asyncio.sleep(retry_delay_s(self.base_delay_ms, attempt))
            logger.warning("webhook not delivered after %s attempts: %s", self.max_attempts,
                           reason, extra={"project_id": payload.get("project_id")})
            return False

    async def close(self, timeout_s: float = 5.0) -> None:
        """Give pending notifications a moment, then drop them."""
        if not self._pending:
            return
        _, pending = await asyncio.wait(set(self._pending), timeout=timeout_s)
        for task in pending:
            task.cancel()
