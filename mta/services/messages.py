"""The message log: one message with its events, or a filtered list.

JWTs and keys with `messages.read` see the whole account; a `mail.send` key sees what it sent.
"""

from __future__ import annotations

from typing import Any

import msgspec
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from mta.db.models import Event, Message, MessageRecipient
from mta.errors import NotFound, PermissionDenied, ValidationError
from mta.services.identity import Principal

READ_ALL_SCOPES = ("messages.read", "email_activity.read")
MAX_PAGE_SIZE = 1000


class MessageEventView(msgspec.Struct, kw_only=True):
    event_id: str
    event_type: str
    timestamp: int
    email: str
    data: dict[str, Any]


class MessageView(msgspec.Struct, kw_only=True):
    id: str
    status: str
    subject: str
    from_email: str
    to_emails: list[str]
    categories: list[str]
    template_id: str | None
    created_at: float
    events: list[MessageEventView] | None = None


def _restrict(query: Select[Any], principal: Principal) -> Select[Any]:
    query = query.where(Message.account_id == principal.account_id)
    if any(principal.has_scope(scope) for scope in READ_ALL_SCOPES):
        return query
    if principal.has_scope("mail.send"):
        return query.where(Message.api_key_id == principal.api_key_id)
    raise PermissionDenied("access forbidden: this key lacks the scope messages.read")


class MessageService:
    def __init__(self, sessions: async_sessionmaker[Any]) -> None:
        self._sessions = sessions

    async def _recipients(self, session: Any, message_ids: list[str]) -> dict[str, list[str]]:
        rows = await session.execute(
            select(MessageRecipient.message_id, MessageRecipient.email)
            .where(MessageRecipient.message_id.in_(message_ids))
            .order_by(MessageRecipient.index)
        )
        found: dict[str, list[str]] = {}
        for message_id, email in rows:
            found.setdefault(message_id, []).append(email)
        return found

    @staticmethod
    def _view(row: Message, to_emails: list[str]) -> MessageView:
        return MessageView(
            id=row.id,
            status=row.status,
            subject=row.subject,
            from_email=row.from_email,
            to_emails=to_emails,
            categories=list(row.categories),
            template_id=row.template_id,
            created_at=row.created_at,
        )

    async def get(self, principal: Principal, message_id: str) -> MessageView:
        async with self._sessions() as session:
            row = await session.scalar(
                _restrict(select(Message), principal).where(Message.id == message_id)
            )
            if row is None:
                raise NotFound("message not found")
            events = await session.scalars(
                select(Event)
                .where(Event.message_id == message_id)
                .order_by(Event.timestamp, Event.event_id)
            )
            view = self._view(row, (await self._recipients(session, [row.id])).get(row.id, []))
            view.events = [
                MessageEventView(
                    event_id=e.event_id,
                    event_type=e.event_type,
                    timestamp=e.timestamp,
                    email=e.email,
                    data=e.data,
                )
                for e in events
            ]
            return view

    async def list(
        self, principal: Principal, *, to_email: str | None, page_size: int
    ) -> list[MessageView]:
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValidationError(
                f"page_size must be between 1 and {MAX_PAGE_SIZE}", field="page_size"
            )
        query = _restrict(select(Message), principal)
        if to_email:
            query = query.where(
                Message.id.in_(
                    select(MessageRecipient.message_id).where(
                        MessageRecipient.email == to_email.lower()
                    )
                )
            )
        query = query.order_by(Message.created_at.desc(), Message.id.desc()).limit(page_size)
        async with self._sessions() as session:
            rows = list(await session.scalars(query))
            recipients = await self._recipients(session, [row.id for row in rows])
            return [self._view(row, recipients.get(row.id, [])) for row in rows]
