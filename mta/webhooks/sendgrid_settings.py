"""SendGrid's event webhook API over our webhooks: the single `/v3/user/webhooks/event/settings`
webhook (the account's first SendGrid-format webhook) and the account's ECDSA signing key.
"""

from __future__ import annotations

from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mta.core.clock import Clock, SystemClock
from mta.core.errors import NotFound, ValidationError
from mta.core.events import EVENT_TYPES
from mta.db.models import Webhook, WebhookSigningKey
from mta.webhooks.oauth import OAuthInput, given_any, store_oauth, stored_oauth
from mta.webhooks.sendgrid_format import new_signing_key
from mta.webhooks.service import WebhookService


class SignedView(msgspec.Struct, kw_only=True):
    enabled: bool
    public_key: str


def settings_view(hook: Webhook | None) -> dict[str, Any]:
    """SendGrid's settings shape: enabled, url, a flag per event type and, when OAuth is set,
    its client id and token URL (never the secret)."""
    events = set(hook.enabled_events) if hook is not None else set()
    view: dict[str, Any] = {
        "enabled": bool(hook and hook.enabled),
        "url": hook.url if hook is not None else "",
    }
    view.update({name: name in events for name in sorted(EVENT_TYPES)})
    if hook is not None and hook.oauth_client_id:
        view["oauth_client_id"] = hook.oauth_client_id
        view["oauth_token_url"] = hook.oauth_token_url or ""
    return view


def apply_flags(current: list[str], flags: dict[str, bool]) -> list[str]:
    """The enabled event list after SendGrid-style per-event booleans."""
    events = set(current)
    for name, on in flags.items():
        if name in EVENT_TYPES:
            (events.add if on else events.discard)(name)
    return sorted(events)


class SendGridEventWebhook:
    """The account's SendGrid-format webhook and signing key, made and changed through the
    WebhookService's own checks (URL guard, OAuth merge, test sends)."""

    def __init__(
        self,
        sessions: async_sessionmaker[Any],
        webhooks: WebhookService,
        clock: Clock | None = None,
    ) -> None:
        self._webhooks = webhooks
        self._sessions = sessions
        self._clock = clock or SystemClock()

    async def signed(self, account_id: str) -> SignedView:
        async with self._sessions() as session, session.begin():
            key = await _key(session, account_id, self._clock.time())
        return SignedView(enabled=key.enabled, public_key=key.public_key)

    async def set_signed(self, account_id: str, enabled: bool) -> SignedView:
        async with self._sessions() as session, session.begin():
            key = await _key(session, account_id, self._clock.time())
            key.enabled = enabled
        return SignedView(enabled=key.enabled, public_key=key.public_key)

    async def get(self, account_id: str) -> dict[str, Any]:
        async with self._sessions() as session:
            return settings_view(await _sendgrid_hook(session, account_id))

    async def update(
        self, account_id: str, changes: dict[str, Any], oauth: OAuthInput | None = None
    ) -> dict[str, Any]:
        """Change (or set up) the webhook; `oauth` as in mta.webhooks.oauth.merge."""
        flags = {k: v for k, v in changes.items() if k in EVENT_TYPES}
        oauth = oauth or OAuthInput()
        async with self._sessions() as session:
            hook = await _sendgrid_hook(session, account_id)
        if hook is None:
            if not changes.get("url"):
                raise ValidationError("url is required to set up the event webhook", field="url")
            events = apply_flags([], flags) or ["delivered"]
            view = await self._webhooks.create(
                account_id, changes["url"], events, "sendgrid", oauth
            )
            hook_id, oauth = view.id, OAuthInput()
        else:
            hook_id = hook.id
        async with self._sessions() as session, session.begin():
            row = await session.get(Webhook, hook_id)
            assert row is not None
            if changes.get("url") is not None:
                row.url = self._webhooks.check_url(changes["url"])
            if changes.get("enabled") is not None:
                row.enabled = bool(changes["enabled"])
            row.enabled_events = apply_flags(list(row.enabled_events), flags)
            store_oauth(row, self._webhooks.merge_oauth(stored_oauth(row), oauth))
        return settings_view(row)

    async def test(self, account_id: str, url: str | None, oauth: OAuthInput | None = None) -> None:
        """A test event for the account's SendGrid-format webhook: queued in the outbox, or,
        with OAuth fields given, posted now with those credentials."""
        async with self._sessions() as session:
            hook = await _sendgrid_hook(session, account_id)
        if hook is None:
            raise NotFound("no event webhook is set up: PATCH /v3/user/webhooks/event/settings")
        if url is not None and url != hook.url:
            raise ValidationError("url must be the event webhook's url", field="url")
        if oauth is not None and given_any(oauth):
            await self._webhooks.send_oauth_test(account_id, hook.id, oauth)
        else:
            await self._webhooks.send_test(account_id, hook.id)


async def _sendgrid_hook(session: AsyncSession, account_id: str) -> Webhook | None:
    found = await session.scalars(
        select(Webhook)
        .where(Webhook.account_id == account_id, Webhook.format == "sendgrid")
        .order_by(Webhook.created_at, Webhook.id)
        .limit(1)
    )
    return found.first()


async def _key(session: AsyncSession, account_id: str, now: float) -> WebhookSigningKey:
    """The account's signing key, made on first use at `now` (disabled until PATCH
    …/signed)."""
    key = await session.get(WebhookSigningKey, account_id)
    if key is None:
        made = new_signing_key()
        key = WebhookSigningKey(
            account_id=account_id,
            private_key_pem=made.private_key_pem,
            public_key=made.public_key,
            enabled=False,
            created_at=now,
        )
        session.add(key)
    return key
