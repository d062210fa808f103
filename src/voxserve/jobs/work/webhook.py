"""Project notifications: POST ``{project_id, state, …}`` to the project's webhook URL.

Sent in the background with retries and exponential backoff; a failing endpoint never
affects the project.

Safety (``voxserve.security.outbound``): before every attempt the URL's host is resolved
again and refused unless every address is public (or allowed by
``webhook_allowed_hosts``); the request then goes to the checked address itself, with the
original ``Host`` header and TLS name, so a DNS answer that changes in between cannot
redirect it. Redirects are not followed.

Signature (Standard Webhooks, https://www.standardwebhooks.com): with ``webhook_secret``
set, every request carries ``webhook-id`` (the same for every attempt of one
notification), ``webhook-timestamp`` (Unix seconds of this attempt) and
``webhook-signature: v1,<base64(HMAC-SHA256(key, "<id>.<timestamp>.<body>"))>``, where the
key is the base64-decoded part of the ``whsec_…`` secret and ``body`` the exact bytes
sent. Receivers recompute it (any Standard Webhooks library does), compare in constant
time, and refuse timestamps more than a few minutes old (replays).
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from standardwebhooks import Webhook

from voxserve.errors import UnsafeUrl
from voxserve.jobs.tasks.retry import retry_delay_s
from voxserve.security.outbound import OutboundPolicy, resolve_target

logger = logging.getLogger(__name__)

#: First retry after this long; then doubled each time.
WEBHOOK_BASE_DELAY_MS = 1000.0


class WebhookNotifier:
    def __init__(
        self, *, timeout_s: float = 10.0, max_attempts: int = 5,
        base_delay_ms: float = WEBHOOK_BASE_DELAY_MS, secret: str | None = None,
        policy: OutboundPolicy | None = None,
    ) -> None:
        self.timeout_s = timeout_s
        self.max_attempts = max_attempts
        self.base_delay_ms = base_delay_ms
        self.policy = policy or OutboundPolicy()
        self._signer = Webhook(secret) if secret else None
        self._warned_unsigned = False
        self._pending: set[asyncio.Task[bool]] = set()

    def notify(self, url: str | None, payload: dict[str, Any]) -> None:
        """Send in the background (no-op without a URL)."""
        if not url:
            return
        task = asyncio.create_task(self.send(url, payload))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    def headers(self, message_id: str, body: bytes, now: datetime | None = None) -> dict[str, str]:
        """The request's headers, signed when a secret is set."""
        headers = {"User-Agent": "voxserve-webhook", "Content-Type": "application/json"}
        if self._signer is None:
            if not self._warned_unsigned:
                self._warned_unsigned = True
                logger.warning("VOXSERVE_WEBHOOK_SECRET is unset: webhooks are sent unsigned")
        else:
            timestamp = now or datetime.now(UTC)
            headers["webhook-id"] = message_id
            headers["webhook-timestamp"] = str(int(timestamp.timestamp()))
            headers["webhook-signature"] = self._signer.sign(message_id, timestamp, body)
        return headers

    async def send(self, url: str, payload: dict[str, Any]) -> bool:
        """POST until a 2xx answer or ``max_attempts``; True when delivered."""
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        message_id = f"msg_{uuid.uuid4().hex}"
        reason = "not sent"
        async with httpx.AsyncClient(timeout=self.timeout_s, follow_redirects=False) as client:
            for attempt in range(1, self.max_attempts + 1):
                try:
                    target = await asyncio.to_thread(resolve_target, url, self.policy)
                except UnsafeUrl as exc:  # never retried: the target is refused
                    logger.warning("webhook not sent: %s", exc.message,
                                   extra={"project_id": payload.get("project_id")})
                    return False
                headers = {**self.headers(message_id, body), "Host": target.host_header}
                extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
                try:
                    response = await client.post(target.pinned_url, content=body,
                                                 headers=headers, extensions=extensions)
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
