"""Verified tracking hits become events: an open, a click (answered with the original URL), an
unsubscribe or resubscribe by link, one-click POST or mailto. The message log gives the
account, address, categories and custom args each event carries."""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from config.settings import TrackingSettings
from mta.core.addresses import domain_of
from mta.core.events import (
    Click,
    GroupResubscribe,
    GroupUnsubscribe,
    Open,
    Unsubscribe,
    event_type,
)
from mta.db.models import Message, MessageRecipient
from mta.events.bus import EventBus
from mta.tracking.content import Tracker, machine_open
from mta.tracking.links import trackable
from mta.tracking.tokens import (
    Claim,
    TrackingKey,
    parse_token,
    parse_unsubscribe_address,
)

log = logging.getLogger(__name__)
TrackedEvent = Open | Click | Unsubscribe | GroupUnsubscribe | GroupResubscribe
MAX_AGENT_CHARS = 512


class Visitor(msgspec.Struct, frozen=True):
    """Who followed a link: their user agent and address, as the event records them."""

    useragent: str = ""
    ip: str = ""


class Subscription(msgspec.Struct, frozen=True, kw_only=True):
    """What an unsubscribe page shows: the address and, for a group, its id."""

    email: str
    asm_group_id: int | None


class TrackingService:
    def __init__(self, sessions: async_sessionmaker[Any], bus: EventBus, tracker: Tracker) -> None:
        self._sessions = sessions
        self._bus = bus
        self.tracker = tracker

    async def open(self, token: str, visitor: Visitor) -> bool:
        """Record an open for a valid pixel token (machine opens flagged)."""
        claim = parse_token(self.tracker.key, token, "open")
        common = await self._about(claim) if claim else None
        if common is None:
            return False
        agent = _agent(visitor)
        self._emit(Open(**common, useragent=agent, ip=visitor.ip, machine_open=machine_open(agent)))
        return True

    async def click(self, token: str, visitor: Visitor) -> str | None:
        """The original URL of a valid click token, its click recorded; None for anything
        else (bad signature, altered URL, a target that is not http(s)): no redirect."""
        claim = parse_token(self.tracker.key, token, "click")
        if claim is None or not trackable(claim.url):
            return None
        common = await self._about(claim)
        if common is not None:  # a message pruned from the log still redirects
            offset = {"index": claim.url_index, "type": claim.url_type}
            self._emit(
                Click(
                    **common,
                    url=claim.url,
                    url_offset=offset,
                    useragent=_agent(visitor),
                    ip=visitor.ip,
                )
            )
        return claim.url

    async def subscription(self, token: str) -> Subscription | None:
        """What a GET of the unsubscribe link shows (nothing changes on GET)."""
        claim = parse_token(self.tracker.key, token, "unsubscribe")
        common = await self._about(claim) if claim else None
        if claim is None or common is None:
            return None
        return Subscription(email=common["email"], asm_group_id=claim.asm_group_id)

    async def unsubscribe(self, token: str, visitor: Visitor, method: str) -> Subscription | None:
        """Unsubscribe by link (`method` one-click or link): the group's when it has one."""
        claim = parse_token(self.tracker.key, token, "unsubscribe")
        return await self._unsubscribe(claim, visitor, method) if claim else None

    async def resubscribe(self, token: str, visitor: Visitor) -> Subscription | None:
        """Back into the message's unsubscribe group (only group links offer it)."""
        claim = parse_token(self.tracker.key, token, "unsubscribe")
        if claim is None or claim.asm_group_id is None:
            return None
        common = await self._about(claim)
        if common is None:
            return None
        url = self.tracker.url("/wf/unsubscribe", claim)
        await self._emit_written(
            GroupResubscribe(
                **common,
                asm_group_id=claim.asm_group_id,
                url=url,
                useragent=_agent(visitor),
                ip=visitor.ip,
            )
        )
        return Subscription(email=common["email"], asm_group_id=claim.asm_group_id)

    async def unsubscribe_by_mail(self, address: str, mail_from: str) -> bool:
        """A mail to one of our unsub+<token> addresses: True when the token was ours."""
        claim = parse_unsubscribe_address(self.tracker.key, address)
        if claim is None:
            return False
        done = await self._unsubscribe(claim, Visitor(), "mailto")
        log.info(
            "event=unsubscribe_mail message_id=%s index=%d from=%s recorded=%s",
            claim.message_id,
            claim.recipient_index,
            mail_from or "<>",
            done is not None,
        )
        return True

    async def _unsubscribe(
        self, claim: Claim, visitor: Visitor, method: str
    ) -> Subscription | None:
        common = await self._about(claim)
        if common is None:
            return None
        url = self.tracker.url("/wf/unsubscribe", claim) if method != "mailto" else ""
        group = claim.asm_group_id
        if group is None:
            await self._emit_written(
                Unsubscribe(
                    **common, url=url, method=method, useragent=_agent(visitor), ip=visitor.ip
                )
            )
        else:
            await self._emit_written(
                GroupUnsubscribe(
                    **common,
                    asm_group_id=group,
                    url=url,
                    method=method,
                    useragent=_agent(visitor),
                    ip=visitor.ip,
                )
            )
        return Subscription(email=common["email"], asm_group_id=group)

    def _emit(self, event: TrackedEvent) -> None:
        """To the bus, and one log line like delivery's (no queue id: the mail has left it)."""
        self._bus.emit(event)
        log.info(
            "event=%s message_id=%s rcpt_index=%d destination=%s%s",
            event_type(event),
            event.message_id,
            event.recipient_index,
            domain_of(event.email),
            _details(event),
        )

    async def _emit_written(self, event: TrackedEvent) -> None:
        """A change of subscription is answered (200, or the SMTP 250 of a mailto) only once
        its event is in the database: a crash right after must not lose an unsubscribe."""
        self._emit(event)
        await self._bus.written()

    async def _about(self, claim: Claim) -> dict[str, Any] | None:
        """The event fields for the claim's message and recipient, from the message log."""
        async with self._sessions() as session:
            message = await session.get(Message, claim.message_id)
            email = await session.scalar(
                select(MessageRecipient.email).where(
                    MessageRecipient.message_id == claim.message_id,
                    MessageRecipient.index == claim.recipient_index,
                )
            )
        if message is None or email is None:
            return None
        return {
            "account_id": message.account_id,
            "message_id": message.id,
            "email": email,
            "recipient_index": claim.recipient_index,
            "categories": list(message.categories),
            "custom_args": {k: str(v) for k, v in message.custom_args.items()},
        }


def _details(event: TrackedEvent) -> str:
    """What the line adds per kind: the machine-open flag, the group, how one unsubscribed."""
    parts = []
    if isinstance(event, Open):
        parts.append(f"machine_open={str(event.machine_open).lower()}")
    if isinstance(event, GroupUnsubscribe | GroupResubscribe):
        parts.append(f"asm_group_id={event.asm_group_id}")
    if isinstance(event, Unsubscribe | GroupUnsubscribe) and event.method:
        parts.append(f"method={event.method}")
    return "".join(f" {part}" for part in parts)


def _agent(visitor: Visitor) -> str:
    return visitor.useragent[:MAX_AGENT_CHARS]


def make_tracker(settings: TrackingSettings, http_listen: str, server_secret: str) -> Tracker:
    """The tracker from `[tracking]`: its base URL (or our HTTP listener's) and its key."""
    base_url = settings.base_url or f"http://{http_listen}"
    return Tracker(TrackingKey(settings.secret or server_secret), base_url)
