"""Webhook endpoints (create, change, rotate, test, deliveries, redeliver), the URL policy
and the SSRF address guard.

`target_allowed` is the pure check every resolved address of a webhook URL must pass.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

import msgspec
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mta.db.models import Webhook, WebhookDelivery
from mta.errors import Conflict, NotFound, ValidationError
from mta.events.model import EVENT_TYPES, Processed, webhook_payload
from mta.model import new_id
from mta.services.event_webhook import EventWebhookSettings

# Our own deny list on top of `is_global` (CPython's tables changed across patch releases).
DENIED = tuple(
    ipaddress.ip_network(net)
    for net in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
        "172.16.0.0/12", "192.0.0.0/24", "192.168.0.0/16", "198.18.0.0/15", "224.0.0.0/4",
        "240.0.0.0/4", "::/96", "::1/128", "::ffff:0:0:0/96", "64:ff9b:1::/48", "fc00::/7",
        "fe80::/10", "ff00::/8",
    )
)  # fmt: skip
NAT64 = ipaddress.ip_network("64:ff9b::/96")
EVENT_ALIASES = {"spamreport": "spam_report"}
# An IPv4 address in a legacy spelling (2130706433, 0x7f000001, 0177.0.0.1, 127.1):
# resolvers and libc read these as addresses, so they are never taken as host names.
LEGACY_IPV4 = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}$", re.IGNORECASE)


class WebhookView(msgspec.Struct, kw_only=True, omit_defaults=True):
    id: str
    url: str
    enabled_events: list[str]
    enabled: bool
    created_at: float
    format: str
    signing_secret: str | None = None


class WebhookChanges(msgspec.Struct, kw_only=True):
    url: str | None = None
    enabled_events: list[str] | None = None
    enabled: bool | None = None
    format: str | None = None


class DeliveryView(msgspec.Struct, kw_only=True):
    id: str
    event_id: str
    event_type: str
    state: str  # pending | sending | delivered | failed
    attempts: int
    created_at: float
    last_attempt_at: float | None
    last_status: int | None
    last_error: str | None
    next_attempt_at: float | None


class DeliveryQuery(msgspec.Struct, kw_only=True):
    state: str | None = None
    event_type: str | None = None
    limit: int = 50
    offset: int = 0


class PageMeta(msgspec.Struct, kw_only=True):
    count: int
    limit: int
    offset: int
    next_offset: int | None


class DeliveryPage(msgspec.Struct, kw_only=True):
    result: list[DeliveryView]
    _metadata: PageMeta


def target_allowed(address: str, allow_private: bool) -> bool:
    """False for loopback, private, link-local, CGNAT, metadata and their IPv6 disguises."""
    if allow_private:
        return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id is not None:
            return False
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is None and ip in NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None and not target_allowed(str(embedded), False):
            return False
        if ip.teredo and not ip.teredo[0].is_global:
            return False
    if any(ip in net for net in DENIED if net.version == ip.version):
        return False
    return ip.is_global and not ip.is_multicast


def host_refusal(host: str, allow_private: bool) -> str | None:
    """Why a URL host may not be used as a webhook target by its spelling alone, or None.
    Addresses it resolves to are judged separately by `target_allowed`."""
    name = host.strip("[]").rstrip(".").lower()
    if not name:
        return "webhook url must name a host"
    if "%" in name:
        return "webhook url must not use an IPv6 zone"
    if allow_private:
        return None
    try:
        ipaddress.ip_address(name)
    except ValueError:
        if LEGACY_IPV4.match(name):
            return f"webhook host {host!r} is an IP address in a non-standard spelling"
        if name == "localhost" or name.endswith(".localhost"):
            return "webhook host must not be localhost"
        return None
    if not target_allowed(name, False):
        return f"webhook target address {name} is not allowed"
    return None


def check_url(url: str, allow_private: bool, ports: Sequence[int] = (80, 443, 8080, 8443)) -> str:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValidationError("webhook url is not a valid URL", field="url") from None
    schemes = {"https", "http"} if allow_private else {"https"}
    if parts.scheme not in schemes:
        raise ValidationError("webhook url must use https", field="url")
    if not parts.hostname or parts.username or parts.password:
        raise ValidationError("webhook url must name a host and no credentials", field="url")
    refusal = host_refusal(parts.hostname, allow_private)
    if refusal is not None:
        raise ValidationError(refusal, field="url")
    if not allow_private and port is not None and port not in ports:
        raise ValidationError(f"webhook url port {port} is not allowed", field="url")
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
        format=row.format,
        signing_secret=row.signing_secret if with_secret else None,
    )


def _delivery_view(row: WebhookDelivery) -> DeliveryView:
    return DeliveryView(
        id=row.id,
        event_id=row.event_id,
        event_type=row.event_type,
        state=row.state,
        attempts=row.attempts,
        created_at=row.created_at,
        last_attempt_at=row.last_attempt_at,
        last_status=row.last_status,
        last_error=row.last_error,
        next_attempt_at=row.next_attempt_at if row.state == "pending" else None,
    )


def test_payload(account_id: str) -> tuple[str, str]:
    """(event id, JSON payload) of the test event: a `processed` event to a reserved address."""
    event = Processed(
        account_id=account_id,
        message_id="test-" + new_id(),
        email="example@test.scaisend.invalid",
        custom_args={"scaisend_test": "true"},
    )
    return event.event_id, msgspec.json.encode(webhook_payload(event)).decode()


class WebhookService:
    def __init__(
        self,
        sessions: async_sessionmaker[Any],
        allow_private: bool,
        allowed_ports: Sequence[int] = (80, 443, 8080, 8443),
        on_outbox: Callable[[], None] | None = None,
    ) -> None:
        self.sessions = self._sessions = sessions
        self._allow_private = allow_private
        self._ports = tuple(allowed_ports)
        self._on_outbox = on_outbox
        self.sendgrid = EventWebhookSettings(self)

    def check_url(self, url: str) -> str:
        return check_url(url, self._allow_private, self._ports)

    async def create(
        self, account_id: str, url: str, enabled_events: list[str], format: str = "scaisend"
    ) -> WebhookView:
        row = Webhook(
            id=new_id(),
            account_id=account_id,
            url=self.check_url(url),
            enabled_events=normalise_events(enabled_events),
            signing_secret=secrets.token_urlsafe(32),
            enabled=True,
            created_at=time.time(),
            format=format,
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
            return _view(await _owned(session, account_id, webhook_id))

    async def update(
        self, account_id: str, webhook_id: str, changes: WebhookChanges
    ) -> WebhookView:
        async with self._sessions() as session, session.begin():
            row = await _owned(session, account_id, webhook_id)
            if changes.url is not None:
                row.url = self.check_url(changes.url)
            if changes.enabled_events is not None:
                row.enabled_events = normalise_events(changes.enabled_events)
            if changes.enabled is not None:
                row.enabled = changes.enabled
            if changes.format is not None:
                row.format = changes.format
        if changes.enabled:
            self._wake()
        return _view(row)

    async def rotate(self, account_id: str, webhook_id: str) -> WebhookView:
        """A new signing secret, shown in this answer only; the old one stops signing at once."""
        async with self._sessions() as session, session.begin():
            row = await _owned(session, account_id, webhook_id)
            row.signing_secret = secrets.token_urlsafe(32)
        return _view(row, with_secret=True)

    async def delete(self, account_id: str, webhook_id: str) -> None:
        async with self._sessions() as session, session.begin():
            await _owned(session, account_id, webhook_id)
            await session.execute(
                delete(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id)
            )
            await session.execute(delete(Webhook).where(Webhook.id == webhook_id))

    async def send_test(self, account_id: str, webhook_id: str) -> DeliveryView:
        """Queue a test event in the outbox: it is signed, posted and retried like any other."""
        event_id, payload = test_payload(account_id)
        row = WebhookDelivery(
            id=new_id(),
            webhook_id=webhook_id,
            event_id=event_id,
            event_type="processed",
            payload=payload,
            state="pending",
            attempts=0,
            next_attempt_at=0.0,
            created_at=time.time(),
        )
        async with self._sessions() as session, session.begin():
            await _owned(session, account_id, webhook_id)
            session.add(row)
        self._wake()
        return _delivery_view(row)

    async def deliveries(
        self, account_id: str, webhook_id: str, query: DeliveryQuery
    ) -> DeliveryPage:
        where = [WebhookDelivery.webhook_id == webhook_id]
        if query.state is not None:
            where.append(WebhookDelivery.state == query.state)
        if query.event_type is not None:
            kind = EVENT_ALIASES.get(query.event_type, query.event_type)
            where.append(WebhookDelivery.event_type == kind)
        async with self._sessions() as session:
            await _owned(session, account_id, webhook_id)
            total = await session.scalar(
                select(func.count()).select_from(WebhookDelivery).where(*where)
            )
            rows = await session.scalars(
                select(WebhookDelivery)
                .where(*where)
                .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id)
                .limit(query.limit)
                .offset(query.offset)
            )
            result = [_delivery_view(row) for row in rows]
        total = total or 0
        more = query.offset + len(result) < total
        return DeliveryPage(
            result=result,
            _metadata=PageMeta(
                count=total, limit=query.limit, offset=query.offset,
                next_offset=query.offset + len(result) if more else None,
            ),
        )  # fmt: skip

    async def redeliver(self, account_id: str, webhook_id: str, delivery_id: str) -> DeliveryView:
        """Make a delivery pending again with a fresh retry schedule (the same event id)."""
        async with self._sessions() as session, session.begin():
            await _owned(session, account_id, webhook_id)
            row = await session.get(WebhookDelivery, delivery_id)
            if row is None or row.webhook_id != webhook_id:
                raise NotFound("webhook delivery not found")
            if row.state == "sending":
                raise Conflict("the delivery is being sent now")
            row.state, row.attempts, row.next_attempt_at = "pending", 0, 0.0
        self._wake()
        return _delivery_view(row)

    def _wake(self) -> None:
        if self._on_outbox is not None:
            self._on_outbox()


async def _owned(session: AsyncSession, account_id: str, webhook_id: str) -> Webhook:
    """The account's webhook; another account's is as absent as a missing one."""
    row = await session.get(Webhook, webhook_id)
    if row is None or row.account_id != account_id:
        raise NotFound("webhook not found")
    return row
