"""Webhook endpoints: create / list / get / delete, URL policy and the SSRF address guard.

`target_allowed` is the pure check every resolved address of a webhook URL must pass.
"""

from __future__ import annotations

import ipaddress
import secrets
import time
from typing import Any
from urllib.parse import urlsplit

import msgspec
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from mta.db.models import Webhook, WebhookDelivery
from mta.errors import NotFound, ValidationError
from mta.events.model import EVENT_TYPES
from mta.model import new_id

NAT64 = ipaddress.ip_network("64:ff9b::/96")
EVENT_ALIASES = {"spamreport": "spam_report"}


class WebhookView(msgspec.Struct, kw_only=True, omit_defaults=True):
    id: str
    url: str
    enabled_events: list[str]
    enabled: bool
    created_at: float
    signing_secret: str | None = None


def target_allowed(address: str, allow_private: bool) -> bool:
    """False for loopback, private, link-local, CGNAT, metadata and their IPv6 disguises."""
    if allow_private:
        return True
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or (ip.sixtofour) or (ip.teredo[1] if ip.teredo else None)
        if embedded is None and ip in NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None and not embedded.is_global:
            return False
    return ip.is_global and not ip.is_multicast


def check_url(url: str, allow_private: bool) -> str:
    parts = urlsplit(url)
    schemes = {"https", "http"} if allow_private else {"https"}
    if parts.scheme not in schemes:
        raise ValidationError("webhook url must use https", field="url")
    if not parts.hostname or parts.username or parts.password:
        raise ValidationError("webhook url must name a host and no credentials", field="url")
    return url


def normalise_events(events: list[str]) -> list[str]:
    names = [EVENT_ALIASES.get(name, name) for name in events]
    unknown = [name for name in names if name not in EVENT_TYPES]
    if unknown:
        raise ValidationError(f"unknown event type {unknown[0]!r}", field="enabled_events")
    if not names:
        raise ValidationError("enabled_events must not be empty", field="enabled_events")
    return sorted(set(names))


def _view(row: Webhook, with_secret: bool = False) -> WebhookView:
    return WebhookView(
        id=row.id,
        url=row.url,
        enabled_events=list(row.enabled_events),
        enabled=row.enabled,
        created_at=row.created_at,
        signing_secret=row.signing_secret if with_secret else None,
    )


class WebhookService:
    def __init__(self, sessions: async_sessionmaker[Any], allow_private: bool) -> None:
        self._sessions = sessions
        self._allow_private = allow_private

    async def create(self, account_id: str, url: str, enabled_events: list[str]) -> WebhookView:
        row = Webhook(
            id=new_id(),
            account_id=account_id,
            url=check_url(url, self._allow_private),
            enabled_events=normalise_events(enabled_events),
            signing_secret=secrets.token_urlsafe(32),
            enabled=True,
            created_at=time.time(),
        )
        async with self._sessions() as session:
            session.add(row)
            await session.commit()
        return _view(row, with_secret=True)

    async def list(self, account_id: str) -> list[WebhookView]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(Webhook).where(Webhook.account_id == account_id).order_by(Webhook.created_at)
            )
            return [_view(row) for row in rows]

    async def get(self, account_id: str, webhook_id: str) -> WebhookView:
        async with self._sessions() as session:
            row = await session.get(Webhook, webhook_id)
        if row is None or row.account_id != account_id:
            raise NotFound("webhook not found")
        return _view(row)

    async def delete(self, account_id: str, webhook_id: str) -> None:
        await self.get(account_id, webhook_id)
        async with self._sessions() as session, session.begin():
            await session.execute(
                delete(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id)
            )
            await session.execute(delete(Webhook).where(Webhook.id == webhook_id))
