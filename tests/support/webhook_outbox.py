"""A webhook outbox filled by hand for the sender's unit tests: a webhook with pending
deliveries, the delivery rows as they stand, and a sender on the same sessions."""

from __future__ import annotations

import json
import time
from typing import Any

from sqlalchemy import select

from config.settings import DnsSettings, WebhookSettings
from mta.core.dns import DnsResolver
from mta.core.model import new_id
from mta.db.models import Webhook, WebhookDelivery
from mta.webhooks.sender import WebhookSender

SETTINGS = WebhookSettings(
    allow_private_targets=True,
    timeout_seconds=5.0,
    lease_seconds=30.0,
    retry_schedule_seconds=[60, 300],
    per_webhook_concurrency=1,
)


async def add_hook(sessions: Any, url: str, events: int, **columns: Any) -> str:
    """A webhook (more Webhook `columns` as given) with `events` pending deliveries."""
    hook_id = new_id()
    async with sessions() as session, session.begin():
        session.add(
            Webhook(
                id=hook_id,
                account_id="acme",
                url=url,
                enabled_events=["delivered"],
                signing_secret="s3cret",
                enabled=True,
                created_at=time.time(),
                format="scaisend",
                **columns,
            )
        )
        for n in range(events):
            event_id = new_id()
            session.add(
                WebhookDelivery(
                    id=new_id(),
                    webhook_id=hook_id,
                    event_id=event_id,
                    event_type="delivered",
                    payload=json.dumps({"event": "delivered", "event_id": event_id, "n": n}),
                    state="pending",
                    attempts=0,
                    next_attempt_at=0.0,
                )
            )
    return hook_id


async def rows(sessions: Any) -> list[WebhookDelivery]:
    async with sessions() as session:
        return list(await session.scalars(select(WebhookDelivery)))


def sender(sessions: Any, settings: WebhookSettings = SETTINGS) -> WebhookSender:
    return WebhookSender(sessions, settings, DnsResolver(DnsSettings()))
