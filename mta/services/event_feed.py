"""The event feed: an account's events in id order (the order they were made) after a cursor,
narrowed by type and recipient, one bounded page at a time; `scaisend events tail` follows it.

Each event is the webhook's payload. Ids are time-sortable (mta.core.model.new_id), so a time
is a cursor too (`start_time`); the caller keeps the cursor, the server keeps nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import msgspec
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from mta.core.errors import ValidationError
from mta.core.events import EVENT_TYPES, stored_payload
from mta.core.model import id_floor
from mta.db.models import Event
from mta.services.identity import Principal

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
CURSOR = re.compile(r"[0-9a-f]{0,32}")


class EventPage(msgspec.Struct, kw_only=True):
    """Events oldest first, as the event webhook posts them, and the cursor to ask after
    next (the last event's id; when there is none, the cursor asked with)."""

    events: list[dict[str, Any]]
    next: str


class FeedQuery(msgspec.Struct, frozen=True, kw_only=True):
    """What one page asks for, checked: a cursor, types, a recipient and a page size."""

    after: str = ""
    event_types: tuple[str, ...] = ()
    email: str | None = None
    limit: int = DEFAULT_LIMIT


def feed_query(
    *,
    after: str | None = None,
    start_time: int | None = None,
    event_types: Sequence[str] = (),
    email: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> FeedQuery:
    """The page asked for, or a ValidationError naming the parameter (400 over HTTP). A
    `start_time` (Unix seconds) is the cursor of the first id made at that second."""
    cursor = after or ""
    if not CURSOR.fullmatch(cursor):
        raise ValidationError("after must be an event id (up to 32 hex digits)", field="after")
    if start_time is not None:
        if start_time < 0:
            raise ValidationError("start_time must be Unix seconds, 0 or more", field="start_time")
        cursor = max(cursor, id_floor(start_time))
    unknown = sorted(set(event_types) - EVENT_TYPES)
    if unknown:
        raise ValidationError(
            f"unknown event type {unknown[0]}: one of {', '.join(sorted(EVENT_TYPES))}",
            field="event",
        )
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationError(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
    wanted = email.strip().lower() if email is not None else None
    return FeedQuery(
        after=cursor, event_types=tuple(sorted(set(event_types))), email=wanted or None, limit=limit
    )


class EventFeed:
    def __init__(self, sessions: async_sessionmaker[Any]) -> None:
        self._sessions = sessions

    async def page(self, principal: Principal, wanted: FeedQuery) -> EventPage:
        """The principal's account's events after the cursor, never another account's: one
        range read of the (account_id, event_id) index, at most `limit` rows."""
        query = (
            select(Event.event_id, Event.data)
            .where(Event.account_id == principal.account_id, Event.event_id > wanted.after)
            .order_by(Event.event_id)
            .limit(wanted.limit)
        )
        if wanted.event_types:
            query = query.where(Event.event_type.in_(wanted.event_types))
        if wanted.email is not None:  # addresses are kept as sent; compared in any case
            query = query.where(func.lower(Event.email) == wanted.email)
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        events = [stored_payload(data) for _, data in rows]
        return EventPage(events=events, next=rows[-1].event_id if rows else wanted.after)
