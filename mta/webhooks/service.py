"""Webhook endpoints (create, change, rotate, test, deliveries, redeliver) and their OAuth
settings; the URL policy and SSRF guard live in mta.webhooks.guard.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

import msgspec
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mta.core.clock import Clock, SystemClock
from mta.core.errors import Conflict, NotFound, ValidationError
from mta.core.events import EVENT_TYPES, Processed, webhook_payload
from mta.core.model import new_id
from mta.db.models import Webhook, WebhookDelivery
from mta.webhooks import oauth as webhook_oauth
from mta.webhooks.guard import check_url
from mta.webhooks.jobs import exchange_from
from mta.webhooks.oauth import (
    Given,
    OAuthClient,
    OAuthInput,
    Stored,
    store_oauth,
    stored_oauth,
)
from mta.webhooks.sendgrid_format import sendgrid_body

EVENT_ALIASES = {"spamreport": "spam_report"}


class WebhookView(msgspec.Struct, kw_only=True, omit_defaults=True):
    id: str
    url: str
    enabled_events: list[str]
    enabled: bool
    created_at: float
    format: str
    signing_secret: str | None = None
    oauth_client_id: str | None = None  # the OAuth secret is never shown
    oauth_token_url: str | None = None


class WebhookChanges(msgspec.Struct, kw_only=True):
    url: str | None = None
    enabled_events: list[str] | None = None
    enabled: bool | None = None
    format: str | None = None
    oauth_client_id: Given = msgspec.UNSET
    oauth_client_secret: Given = msgspec.UNSET
    oauth_token_url: Given = msgspec.UNSET

    def oauth(self) -> OAuthInput:
        return OAuthInput(
            client_id=self.oauth_client_id,
            client_secret=self.oauth_client_secret,
            token_url=self.oauth_token_url,
        )


class OAuthTester(Protocol):
    """Posts a test event now with the given OAuth credentials (the webhook sender)."""

    def post_test(
        self, webhook_id: str, delivery: WebhookDelivery, oauth: OAuthClient
    ) -> Awaitable[None]: ...


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
    events: int | None = None  # events the last attempt's POST carried (a SendGrid batch)


class DeliveryDetail(DeliveryView, kw_only=True):
    """One delivery with its event and what its last attempt sent and got back: the headers
    (signatures; an OAuth token hidden) and the start of the receiver's answer."""

    payload: str  # the event as posted (SendGrid format: in an array, with other events)
    request_headers: dict[str, str] | None = None
    response_body: str | None = None


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
        oauth_client_id=row.oauth_client_id,
        oauth_token_url=row.oauth_token_url,
    )


def _delivery_view(row: WebhookDelivery) -> DeliveryView:
    exchange = exchange_from(row.last_exchange)
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
        events=exchange.events if exchange is not None else None,
    )


def _delivery_detail(row: WebhookDelivery, format: str) -> DeliveryDetail:
    exchange = exchange_from(row.last_exchange)
    return DeliveryDetail(
        **msgspec.structs.asdict(_delivery_view(row)),
        payload=sendgrid_body([row.payload]) if format == "sendgrid" else row.payload,
        request_headers=exchange.headers if exchange is not None else None,
        response_body=exchange.response if exchange is not None else None,
    )


def test_payload(account_id: str, now: float) -> tuple[str, str]:
    """(event id, JSON payload) of the test event: a `processed` event to a reserved address,
    stamped `now`."""
    event = Processed(
        account_id=account_id,
        message_id="test-" + new_id(),
        email="example@test.scaisend.invalid",
        custom_args={"scaisend_test": "true"},
        timestamp=int(now),
    )
    return event.event_id, msgspec.json.encode(webhook_payload(event)).decode()


def test_delivery(account_id: str, webhook_id: str, now: float) -> WebhookDelivery:
    event_id, payload = test_payload(account_id, now)
    return WebhookDelivery(
        id=new_id(),
        webhook_id=webhook_id,
        event_id=event_id,
        event_type="processed",
        payload=payload,
        state="pending",
        attempts=0,
        next_attempt_at=0.0,
        created_at=now,
    )


class WebhookService:
    def __init__(
        self,
        sessions: async_sessionmaker[Any],
        allow_private: bool,
        allowed_ports: Sequence[int] = (80, 443, 8080, 8443),
        on_outbox: Callable[[], None] | None = None,
        oauth_tester: OAuthTester | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._clock = clock or SystemClock()
        self._sessions = sessions
        self._allow_private = allow_private
        self._ports = tuple(allowed_ports)
        self._on_outbox = on_outbox
        self._oauth_tester = oauth_tester

    def check_url(self, url: str) -> str:
        return check_url(url, self._allow_private, self._ports)

    def merge_oauth(self, current: Stored, given: OAuthInput) -> Stored:
        return webhook_oauth.merge(current, given, self._check_token_url)

    def _check_token_url(self, url: str) -> str:
        return check_url(url, self._allow_private, self._ports, field="oauth_token_url")

    async def create(
        self,
        account_id: str,
        url: str,
        enabled_events: list[str],
        format: str = "scaisend",
        oauth: OAuthInput | None = None,
        enabled: bool = True,
    ) -> WebhookView:
        row = Webhook(
            id=new_id(),
            account_id=account_id,
            url=self.check_url(url),
            enabled_events=normalise_events(enabled_events),
            signing_secret=secrets.token_urlsafe(32),
            enabled=enabled,
            created_at=self._clock.time(),
            format=format,
        )
        store_oauth(row, self.merge_oauth(Stored(), oauth or OAuthInput()))
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
            store_oauth(row, self.merge_oauth(stored_oauth(row), changes.oauth()))
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
        row = test_delivery(account_id, webhook_id, self._clock.time())
        async with self._sessions() as session, session.begin():
            await _owned(session, account_id, webhook_id)
            session.add(row)
        self._wake()
        return _delivery_view(row)

    async def send_oauth_test(
        self, account_id: str, webhook_id: str, given: OAuthInput
    ) -> DeliveryView:
        """Post a test event now with the OAuth credentials given (not saved; the stored
        secret when none is given): one attempt, recorded in the delivery log."""
        async with self._sessions() as session:
            hook = await _owned(session, account_id, webhook_id)
        client = webhook_oauth.for_test(stored_oauth(hook), given, self._check_token_url)
        if self._oauth_tester is None:
            raise Conflict("webhooks are not being sent by this server")
        row = test_delivery(account_id, webhook_id, self._clock.time())
        await self._oauth_tester.post_test(webhook_id, row, client)
        async with self._sessions() as session:
            done = await session.get(WebhookDelivery, row.id)
            return _delivery_view(done or row)

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

    async def delivery(self, account_id: str, webhook_id: str, delivery_id: str) -> DeliveryDetail:
        """One delivery of the account's webhook, with its last attempt's request and answer."""
        async with self._sessions() as session:
            row = await _owned_delivery(session, account_id, webhook_id, delivery_id)
            hook = await _owned(session, account_id, webhook_id)
            return _delivery_detail(row, hook.format)

    async def redeliver(self, account_id: str, webhook_id: str, delivery_id: str) -> DeliveryView:
        """Make a delivery pending again with a fresh retry schedule (the same event id)."""
        async with self._sessions() as session, session.begin():
            row = await _owned_delivery(session, account_id, webhook_id, delivery_id)
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


async def _owned_delivery(
    session: AsyncSession, account_id: str, webhook_id: str, delivery_id: str
) -> WebhookDelivery:
    """A delivery of the account's webhook; any other is as absent as a missing one."""
    await _owned(session, account_id, webhook_id)
    row = await session.get(WebhookDelivery, delivery_id)
    if row is None or row.webhook_id != webhook_id:
        raise NotFound("webhook delivery not found")
    return row
