"""Retention: prunes the message log (with its recipients, categories and events), events and
posted Inbound Parse mail older than the configured days, in bounded chunks of one short
transaction each, in the background, then refreshes the planner's statistics. The daily
stats aggregates are kept.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import msgspec
from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mta.core.clock import Clock, SystemClock
from mta.db.models import Event, Message, MessageCategory, MessageRecipient
from mta.db.parse_models import ParseMessage

log = logging.getLogger(__name__)
DAY = 86400.0
CHUNK = 500  # rows a transaction deletes: short enough not to hold up the event bus
MAX_CHUNKS = 2000  # per round; the next round goes on where this one stopped


class RetentionPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """Days to keep (0: forever) and how often to prune."""

    message_days: int = 30
    event_days: int = 30
    interval_seconds: float = 3600.0


class Pruned(msgspec.Struct, kw_only=True):
    messages: int = 0
    events: int = 0
    parse_messages: int = 0


def cutoff(now: float, days: int) -> float | None:
    """The creation time before which rows go, or None when kept forever."""
    return now - days * DAY if days > 0 else None


async def _prune_messages(session: AsyncSession, before: float, chunk: int) -> int:
    ids = list(
        await session.scalars(
            select(Message.id)
            .where(Message.created_at < before)
            .order_by(Message.created_at)
            .limit(chunk)
        )
    )
    if ids:
        for table, column in (
            (MessageCategory, MessageCategory.message_id),
            (MessageRecipient, MessageRecipient.message_id),
            (Event, Event.message_id),
        ):
            await session.execute(delete(table).where(column.in_(ids)))
        await session.execute(delete(Message).where(Message.id.in_(ids)))
    return len(ids)


async def _prune_events(session: AsyncSession, before: float, chunk: int) -> int:
    ids = list(
        await session.scalars(select(Event.event_id).where(Event.timestamp < before).limit(chunk))
    )
    if ids:
        await session.execute(delete(Event).where(Event.event_id.in_(ids)))
    return len(ids)


async def _prune_parse_messages(session: AsyncSession, before: float, chunk: int) -> int:
    """Inbound Parse mail received before `before` and no longer being posted."""
    ids = list(
        await session.scalars(
            select(ParseMessage.id)
            .where(ParseMessage.received_at < before, ParseMessage.status != "pending")
            .limit(chunk)
        )
    )
    if ids:
        await session.execute(delete(ParseMessage).where(ParseMessage.id.in_(ids)))
    return len(ids)


async def refresh_statistics(session: AsyncSession) -> None:
    """SQLite picks the right index for the log's filters (a recipient's few messages among
    millions) only with statistics: a sampled ANALYZE, bounded by analysis_limit, takes
    milliseconds. PostgreSQL's autovacuum keeps its own."""
    if session.get_bind().dialect.name == "sqlite":
        await session.execute(text("PRAGMA analysis_limit=1000"))
        await session.execute(text("ANALYZE"))


class Retention:
    def __init__(
        self,
        sessions: async_sessionmaker[Any],
        policy: RetentionPolicy,
        clock: Clock | None = None,
        chunk: int = CHUNK,
    ) -> None:
        self._sessions = sessions
        self._policy = policy
        self._clock = clock or SystemClock()
        self._chunk = chunk

    async def prune(self, max_chunks: int = MAX_CHUNKS) -> Pruned:
        """One round: messages then events, a chunk a transaction, until none is left
        or `max_chunks` of each were done."""
        now = self._clock.time()
        done = Pruned()
        steps = (
            ("messages", cutoff(now, self._policy.message_days), _prune_messages),
            ("events", cutoff(now, self._policy.event_days), _prune_events),
            ("parse_messages", cutoff(now, self._policy.message_days), _prune_parse_messages),
        )
        for name, before, step in steps:
            if before is None:
                continue
            for _ in range(max_chunks):
                async with self._sessions() as session, session.begin():
                    count = await step(session, before, self._chunk)
                setattr(done, name, getattr(done, name) + count)
                if count < self._chunk:
                    break
                await asyncio.sleep(0)  # let the event loop breathe between chunks
        async with self._sessions() as session, session.begin():
            await refresh_statistics(session)
        return done

    async def run(self) -> None:
        """Prune every interval until cancelled; a failed round is logged and retried."""
        while True:
            try:
                done = await self.prune()
            except Exception:
                log.exception("event=retention_failed")
            else:
                if done.messages or done.events or done.parse_messages:
                    log.info(
                        "event=retention_pruned messages=%d events=%d parse_messages=%d",
                        done.messages,
                        done.events,
                        done.parse_messages,
                    )
            await self._clock.sleep(self._policy.interval_seconds)
