"""What each batch of events adds up to, kept in the bus's transaction: the daily stats
aggregates (per account, per category, per UTC day; set-based upserts) and the message log's
per-message counters (last_event_time, opens_count, clicks_count).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, case, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from mta.core.events import Bounce, Dropped, Event, event_type
from mta.db.models import DailyStats, Message
from mta.db.models import Event as EventRow

METRICS = (
    "blocks",
    "bounce_drops",
    "bounces",
    "clicks",
    "deferred",
    "delivered",
    "invalid_emails",
    "opens",
    "processed",
    "requests",
    "spam_report_drops",
    "spam_reports",
    "unique_clicks",
    "unique_opens",
    "unsubscribe_drops",
    "unsubscribes",
)
_PLAIN = {
    "processed": ("processed", "requests"),
    "delivered": ("delivered",),
    "deferred": ("deferred",),
    "open": ("opens",),
    "click": ("clicks",),
    "spam_report": ("spam_reports",),
    "unsubscribe": ("unsubscribes",),
    "group_unsubscribe": ("unsubscribes",),
}
# A drop's reason (SendGrid's wording or ours) → the metric that counts it.
_DROP_REASONS = (
    ("bounce", "bounce_drops"),
    ("spam report", "spam_report_drops"),
    ("complain", "spam_report_drops"),
    ("unsubscrib", "unsubscribe_drops"),
    ("invalid", "invalid_emails"),
)
UNIQUE = {"open": "unique_opens", "click": "unique_clicks"}
ALL_CATEGORIES = ""  # the category of an account's total row
# Made from the queued envelope, so their categories are the message's: no lookup needed.
FROM_ENVELOPE = frozenset({"processed", "delivered", "deferred"})
MESSAGES = cast(Table, Message.__table__)
STATS = cast(Table, DailyStats.__table__)


def utc_day(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")


def drop_metric(reason: str) -> str | None:
    lowered = reason.lower()
    return next((metric for word, metric in _DROP_REASONS if word in lowered), None)


def event_metrics(event: Event) -> tuple[str, ...]:
    """The metrics one event adds 1 to (unique opens and clicks aside)."""
    if isinstance(event, Bounce):
        return ("blocks",) if event.type == "blocked" else ("bounces",)
    if isinstance(event, Dropped):
        metric = drop_metric(event.reason)
        return (metric,) if metric else ()
    return _PLAIN.get(event_type(event), ())


def first_engagements(events: Sequence[Event], earlier: set[tuple[str, str, str]]) -> set[str]:
    """Ids of the events that are a recipient's first open or first click of a message;
    `earlier` holds (message id, email, kind) already seen before this batch."""
    seen = set(earlier)
    firsts: set[str] = set()
    for event in sorted(events, key=lambda e: e.timestamp):
        kind = event_type(event)
        if kind not in UNIQUE:
            continue
        key = (event.message_id, event.email.lower(), kind)
        if key not in seen:
            seen.add(key)
            firsts.add(event.event_id)
    return firsts


def tally(
    events: Sequence[Event], firsts: set[str], categories: dict[str, list[str]]
) -> dict[tuple[str, str, str], Counter[str]]:
    """(account, category, day) → metric counts; `categories` fills in events that carry
    none (by message id)."""
    counts: dict[tuple[str, str, str], Counter[str]] = {}
    for event in events:
        metrics = list(event_metrics(event))
        if event.event_id in firsts:
            metrics.append(UNIQUE[event_type(event)])
        if not metrics:
            continue
        day = utc_day(event.timestamp)
        names = event.categories or categories.get(event.message_id, [])
        for category in (ALL_CATEGORIES, *dict.fromkeys(names)):
            counts.setdefault((event.account_id, category, day), Counter()).update(metrics)
    return counts


class StatsSink:
    """Keeps `stats_daily` from the events, never by scanning them later."""

    async def apply(self, session: AsyncSession, events: Sequence[Event]) -> None:
        if not events:
            return
        firsts = first_engagements(events, await _earlier_engagements(session, events))
        counts = tally(events, firsts, await _message_categories(session, events))
        if counts:
            await _upsert(session, counts)


async def _earlier_engagements(
    session: AsyncSession, events: Sequence[Event]
) -> set[tuple[str, str, str]]:
    engaged = [e for e in events if event_type(e) in UNIQUE]
    if not engaged:
        return set()
    rows = await session.execute(
        select(EventRow.message_id, EventRow.email, EventRow.event_type).where(
            EventRow.message_id.in_({e.message_id for e in engaged}),
            EventRow.event_type.in_(UNIQUE),
            EventRow.event_id.not_in([e.event_id for e in engaged]),
        )
    )
    return {(m, email.lower(), kind) for m, email, kind in rows}


async def _message_categories(
    session: AsyncSession, events: Sequence[Event]
) -> dict[str, list[str]]:
    bare = {
        e.message_id
        for e in events
        if not e.categories and event_type(e) not in FROM_ENVELOPE and event_metrics(e)
    }
    if not bare:
        return {}
    rows = await session.execute(select(Message.id, Message.categories).where(Message.id.in_(bare)))
    return {message_id: list(found or []) for message_id, found in rows}


async def _upsert(session: AsyncSession, counts: dict[tuple[str, str, str], Counter[str]]) -> None:
    dialect = session.get_bind().dialect.name
    insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(STATS)
    statement = statement.on_conflict_do_update(
        index_elements=["account_id", "category", "day"],
        set_={m: STATS.c[m] + statement.excluded[m] for m in METRICS},
    )
    rows = [
        {"account_id": a, "category": c, "day": d, **{m: found[m] for m in METRICS}}
        for (a, c, d), found in counts.items()
    ]
    await session.execute(statement, rows)


class MessageActivitySink:
    """Moves each touched message's last_event_time and open and click counts, one
    executemany UPDATE a batch."""

    async def apply(self, session: AsyncSession, events: Sequence[Event]) -> None:
        latest: dict[str, int] = {}
        engaged: dict[str, Counter[str]] = {}
        for event in events:
            latest[event.message_id] = max(latest.get(event.message_id, 0), event.timestamp)
            kind = event_type(event)
            engaged.setdefault(event.message_id, Counter())[kind] += kind in UNIQUE
        if not latest:
            return
        current = func.coalesce(MESSAGES.c.last_event_time, 0)
        await session.execute(
            update(MESSAGES)
            .where(MESSAGES.c.id == bindparam("m"))
            .values(
                last_event_time=case(
                    (current < bindparam("t"), bindparam("t")), else_=MESSAGES.c.last_event_time
                ),
                opens_count=MESSAGES.c.opens_count + bindparam("o"),
                clicks_count=MESSAGES.c.clicks_count + bindparam("c"),
            ),
            [
                {"m": m, "t": t, "o": engaged[m]["open"], "c": engaged[m]["click"]}
                for m, t in latest.items()
            ],
        )
