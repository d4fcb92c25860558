"""The webhook sender: posts outbox rows one event per request, signed, and retries failures.

Signature: hex HMAC-SHA256 of "{timestamp}.{body}" with the webhook's secret.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import socket
import time
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from config.settings import WebhookSettings
from mta.db.models import Webhook, WebhookDelivery
from mta.services.webhooks import target_allowed

log = logging.getLogger(__name__)
BATCH = 50
IDLE_POLL_SECONDS = 5.0


def sign(secret: str, timestamp: str, body: str) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()


def next_attempt_delay(attempts: int, schedule: list[int]) -> int | None:
    """Seconds until the next try after `attempts` failures, or None when it is exhausted."""
    return schedule[attempts - 1] if attempts <= len(schedule) else None


class WebhookSender:
    def __init__(self, sessions: async_sessionmaker[Any], settings: WebhookSettings) -> None:
        self._sessions = sessions
        self._settings = settings
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None

    def wake(self) -> None:
        self._wakeup.set()

    def start(self) -> None:
        self._client = httpx.AsyncClient(
            follow_redirects=False, timeout=self._settings.timeout_seconds
        )
        self._task = asyncio.create_task(self._run(), name="webhook-sender")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()

    async def _run(self) -> None:
        while True:
            self._wakeup.clear()
            try:
                sent = await self.send_due()
            except Exception:
                log.exception("event=webhook_loop_failed")
                sent = 0
            if sent < BATCH:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), IDLE_POLL_SECONDS)

    async def send_due(self) -> int:
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(WebhookDelivery, Webhook)
                    .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
                    .where(
                        WebhookDelivery.state == "pending",
                        WebhookDelivery.next_attempt_at <= time.time(),
                    )
                    .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
                    .limit(BATCH)
                )
            ).all()
        results = await asyncio.gather(*(self._post(hook, item) for item, hook in rows))
        async with self._sessions() as session, session.begin():
            for (item, _hook), (status, error) in zip(rows, results, strict=True):
                stored = await session.get(WebhookDelivery, item.id)
                if stored is not None:
                    self._record(stored, status, error)
        return len(rows)

    def _record(self, row: WebhookDelivery, status: int | None, error: str | None) -> None:
        row.attempts += 1
        row.last_status, row.last_error = status, error
        if status is not None and 200 <= status < 300:
            row.state = "delivered"
            return
        delay = next_attempt_delay(row.attempts, self._settings.retry_schedule_seconds)
        if delay is None:
            row.state = "failed"
        else:
            row.next_attempt_at = time.time() + delay
        log.warning(
            "event=webhook_failed delivery=%s attempts=%d status=%s error=%s",
            row.id,
            row.attempts,
            status,
            error,
        )

    async def _post(self, hook: Webhook, item: WebhookDelivery) -> tuple[int | None, str | None]:
        assert self._client is not None
        refusal = await self._refuse_target(hook.url)
        if refusal:
            return None, refusal
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "ScaiSend-Webhook/1",
            "X-ScaiSend-Signature": sign(hook.signing_secret, timestamp, item.payload),
            "X-ScaiSend-Timestamp": timestamp,
            "X-ScaiSend-Event": item.event_type,
        }
        try:
            response = await self._client.post(
                hook.url, content=item.payload.encode(), headers=headers
            )
        except httpx.HTTPError as exc:
            return None, f"{exc.__class__.__name__}: {exc}"[:500]
        return response.status_code, None

    async def _refuse_target(self, url: str) -> str | None:
        """Why the URL's host may not be posted to, or None when every address is allowed."""
        host = urlsplit(url).hostname or ""
        port = urlsplit(url).port or 443
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except OSError as exc:
            return f"cannot resolve {host}: {exc}"
        for info in infos:
            address = str(info[4][0])
            if not target_allowed(address, self._settings.allow_private_targets):
                return f"target address {address} is not allowed"
        return None
