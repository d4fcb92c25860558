"""The message log: one message with its events, or a list narrowed by a `MessageFilter`.

JWTs and keys with `messages.read` see the whole account; a `mail.send` key sees what it sent.
Views carry the tutorial's field names and SendGrid's (msg_id, to_email, last_event_time …).
"""

from __future__ import annotations

import time
from typing import Any

import msgspec
from sqlalchemy import Select, Text, cast, literal, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from mta.core.errors import NotFound, PermissionDenied, ValidationError
from mta.db.models import Event, Message, MessageCategory, MessageRecipient
from mta.services.identity import Principal
from mta.services.message_filter import NO_FILTER, And, Like, Match, MessageFilter
from mta.services.message_where import COLUMNS as FILTER_COLUMNS
from mta.services.message_where import like, where_clause

READ_ALL_SCOPES = ("messages.read", "email_activity.read")
MAX_PAGE_SIZE = 1000
# A LIKE prefix shared by this many of an account's messages is "broad" (see _broad_likes).
BROAD_PREFIX = 1000
PREFIX_INDEXED = ("subject", "from_email")  # indexed (account_id, field, created_at)
# Our event names → SendGrid's activity `event_name`.
EVENT_NAMES = {"bounce": "bounced", "open": "opened", "click": "clicked"}


class MessageEventView(msgspec.Struct, kw_only=True, omit_defaults=True):
    event_id: str
    event_type: str
    timestamp: int
    email: str
    data: dict[str, Any]
    # SendGrid's activity names for the same event.
    event_name: str = ""
    processed: str = ""
    reason: str | None = None
    attempt_num: int | None = None
    url: str | None = None
    bounce_type: str | None = None
    http_user_agent: str | None = None
    mx_server: str | None = None


class MessageView(msgspec.Struct, kw_only=True):
    id: str
    msg_id: str
    status: str
    subject: str
    from_email: str
    to_email: str
    to_emails: list[str]
    categories: list[str]
    template_id: str | None
    api_key_id: str | None
    unique_args: dict[str, Any]
    created_at: float
    last_event_time: str
    opens_count: int
    clicks_count: int
    events: list[MessageEventView] | None = None


def iso_time(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


CATEGORIES = msgspec.json.Decoder(list[str])  # built once: a page decodes 2000 columns
UNIQUE_ARGS = msgspec.json.Decoder(dict[str, Any])


def _decode(raw: str | bytes | None, decoder: msgspec.json.Decoder[Any], empty: Any) -> Any:
    return decoder.decode(raw) if raw else empty


# Plain rows, not ORM objects: a page of 1000 costs a third as much.
COLUMNS: tuple[Any, ...] = (
    Message.id,
    Message.status,
    Message.subject,
    Message.from_email,
    # CAST, not type_coerce: PostgreSQL's driver would decode JSON itself, and DISTINCT
    # needs a type with equality (json has none). msgspec decodes the text.
    cast(Message.categories, Text).label("categories"),
    Message.template_id,
    Message.api_key_id,
    cast(Message.custom_args, Text).label("custom_args"),
    Message.created_at,
    Message.last_event_time,
    Message.opens_count,
    Message.clicks_count,
)


def _restrict(query: Select[Any], principal: Principal) -> Select[Any]:
    query = query.where(Message.account_id == principal.account_id)
    if any(principal.has_scope(scope) for scope in READ_ALL_SCOPES):
        return query
    if principal.has_scope("mail.send"):
        return query.where(Message.api_key_id == principal.api_key_id)
    raise PermissionDenied("access forbidden: this key lacks the scope messages.read")


def apply_filter(
    query: Select[Any],
    account_id: str,
    wanted: MessageFilter,
    dialect: str,
    unindexed: frozenset[str] = frozenset(),
) -> Select[Any]:
    """The filter as a WHERE clause for the database `dialect` names (LIKE differs), ordered
    newest first. A category every result must have is a join instead: the category's own
    index is walked in time order, so a rare category is found without reading the
    account's other messages, a common one without sorting all of it."""
    order = (Message.created_at.desc(), Message.id.desc())
    category, rest = _split_category(wanted)
    if category is not None:
        query = query.join(MessageCategory, MessageCategory.message_id == Message.id).where(
            MessageCategory.account_id == account_id,
            MessageCategory.category.in_(category.values),
        )
        if len(category.values) == 1:
            order = (MessageCategory.created_at.desc(), MessageCategory.message_id.desc())
        else:
            query = query.distinct()  # a message in two of the categories is listed once
    if rest != NO_FILTER:
        query = query.where(where_clause(rest, account_id, dialect, unindexed))
    return query.order_by(*order)


async def _broad_likes(
    session: Any, account_id: str, wanted: MessageFilter, dialect: str
) -> frozenset[str]:
    """The fields of top-level LIKE prefixes that many messages share. SQLite answers a
    prefix from the field's index and then sorts every match by time; for a broad prefix
    walking the newest-first index and testing each row finds a page far sooner. Probed
    on the field's covering index, at most BROAD_PREFIX entries read."""
    if dialect != "sqlite":
        return frozenset()  # PostgreSQL's planner weighs the prefix by its statistics
    items = wanted.items if isinstance(wanted, And) else (wanted,)
    broad = set()
    for item in items:
        if not isinstance(item, Like) or item.field not in PREFIX_INDEXED:
            continue
        if item.pattern[:1] in ("%", "_", ""):
            continue  # no prefix: no index range to choose
        probe = (
            select(literal(1))
            .select_from(Message)
            .where(Message.account_id == account_id)
            .where(like(FILTER_COLUMNS[item.field], item.pattern, dialect))
            .limit(BROAD_PREFIX)
        )
        if len((await session.execute(probe)).all()) >= BROAD_PREFIX:
            broad.add(item.field)
    return frozenset(broad)


def _split_category(wanted: MessageFilter) -> tuple[Match | None, MessageFilter]:
    """The first top-level `categories` Match, and the rest of the filter."""
    items = wanted.items if isinstance(wanted, And) else (wanted,)
    for index, item in enumerate(items):
        if isinstance(item, Match) and item.field == "categories":
            return item, And(items[:index] + items[index + 1 :])
    return None, wanted


def event_view(row: Event) -> MessageEventView:
    data = row.data
    kind = row.event_type
    return MessageEventView(
        event_id=row.event_id,
        event_type=kind,
        timestamp=row.timestamp,
        email=row.email,
        data=data,
        event_name=EVENT_NAMES.get(kind, kind),
        processed=iso_time(row.timestamp),
        reason=data.get("reason") or data.get("response"),
        attempt_num=data.get("attempt"),
        url=data.get("url"),
        bounce_type=_bounce_type(data) if kind == "bounce" else None,
        http_user_agent=data.get("useragent"),
        mx_server=data.get("mx") or None,
    )


def _bounce_type(data: dict[str, Any]) -> str:
    return "soft" if str(data.get("status", "")).startswith("4") else "hard"


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
    def _view(row: Any, to_emails: list[str]) -> MessageView:
        # Unpacked by position (the order of COLUMNS): a Row's attribute lookup costs more
        # than the rest of the view on a page of 1000.
        (id_, status, subject, from_email, categories, template_id, api_key_id) = row[:7]
        custom_args, created_at, last_event_time, opens, clicks = row[7:]
        return MessageView(
            id=id_,
            msg_id=id_,
            status=status,
            subject=subject,
            from_email=from_email,
            to_email=to_emails[0] if to_emails else "",
            to_emails=to_emails,
            categories=_decode(categories, CATEGORIES, []),
            template_id=template_id,
            api_key_id=api_key_id,
            unique_args=_decode(custom_args, UNIQUE_ARGS, {}),
            created_at=created_at,
            last_event_time=iso_time(last_event_time or created_at),
            opens_count=opens or 0,
            clicks_count=clicks or 0,
        )

    async def get(self, principal: Principal, message_id: str) -> MessageView:
        async with self._sessions() as session:
            query = _restrict(select(*COLUMNS), principal).where(Message.id == message_id)
            row = (await session.execute(query)).first()
            if row is None:
                raise NotFound("message not found")
            events = await session.scalars(
                select(Event)
                .where(Event.message_id == message_id)
                .order_by(Event.timestamp, Event.event_id)
            )
            view = self._view(row, (await self._recipients(session, [row.id])).get(row.id, []))
            view.events = [event_view(e) for e in events]
            return view

    async def list(
        self,
        principal: Principal,
        wanted: MessageFilter,
        *,
        page_size: int,
        size_field: str = "page_size",
        offset: int = 0,
    ) -> list[MessageView]:
        """The newest messages that pass the filter, at most `page_size` of them, after
        skipping the `offset` newest (the dashboard's pages)."""
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValidationError(
                f"{size_field} must be between 1 and {MAX_PAGE_SIZE}", field=size_field
            )
        base = _restrict(select(*COLUMNS).select_from(Message), principal)
        async with self._sessions() as session:
            dialect = session.get_bind().dialect.name
            broad = await _broad_likes(session, principal.account_id, wanted, dialect)
            query = apply_filter(base, principal.account_id, wanted, dialect, broad)
            query = query.limit(page_size)
            if offset > 0:
                query = query.offset(offset)
            rows = list(await session.execute(query))
            recipients = await self._recipients(session, [row.id for row in rows])
            return [self._view(row, recipients.get(row.id, [])) for row in rows]
