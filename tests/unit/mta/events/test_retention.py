"""Retention on a real SQLite database: old messages go with their recipients, categories and
events, old events go alone, in chunks; recent rows and the daily stats stay."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select, text

from mta.db.models import (
    DailyStats,
    Event,
    Message,
    MessageCategory,
    MessageRecipient,
)
from mta.db.parse_models import ParseMessage
from mta.events.retention import DAY, Pruned, Retention, RetentionPolicy, cutoff
from tests.support.clock import FakeClock
from tests.support.databases import Database

NOW = 1767225600.0


def message(n: int, age_days: float) -> list[Any]:
    created = NOW - age_days * DAY
    mid = f"m{n}"
    return [
        Message(
            id=mid,
            account_id="acme",
            api_key_id=None,
            from_email="a@x.io",
            subject="s",
            template_id=None,
            categories=["c"],
            custom_args={},
            status="delivered",
            created_at=created,
            updated_at=created,
        ),
        MessageRecipient(message_id=mid, index=0, email="b@x.io", status="delivered"),
        MessageCategory(message_id=mid, category="c", account_id="acme", created_at=created),
        Event(
            event_id=f"e{n}",
            account_id="acme",
            message_id=mid,
            email="b@x.io",
            event_type="delivered",
            timestamp=int(created),
            data={},
        ),
    ]


async def counts(sessions: Any) -> dict[str, int]:
    async with sessions() as session:
        return {
            model.__tablename__: await session.scalar(select(func.count()).select_from(model))
            for model in (Message, MessageRecipient, MessageCategory, Event, DailyStats)
        }


@pytest.mark.parametrize(("days", "expected"), [(0, None), (1, NOW - DAY), (30, NOW - 30 * DAY)])
def test_cutoff(days: int, expected: float | None) -> None:
    assert cutoff(NOW, days) == expected


async def test_prunes_old_messages_in_chunks(sessions: Any, database: Database) -> None:
    async with sessions() as session:
        for n in range(7):
            session.add_all(message(n, age_days=40 + n))
        for n in range(7, 10):
            session.add_all(message(n, age_days=5))
        session.add(DailyStats(account_id="acme", category="", day="2025-11-01", delivered=7))
        # A recent event of an old message goes with the message.
        session.add(
            Event(
                event_id="late",
                account_id="acme",
                message_id="m0",
                email="b@x.io",
                event_type="open",
                timestamp=int(NOW),
                data={},
            )
        )
        await session.commit()
    policy = RetentionPolicy(message_days=30, event_days=30)
    retention = Retention(sessions, policy, clock=FakeClock(NOW), chunk=3)
    # m6 stays a round longer, but its old event goes by the events rule.
    assert await retention.prune(max_chunks=2) == Pruned(messages=6, events=1)
    assert (await counts(sessions))["messages"] == 4
    assert await retention.prune() == Pruned(messages=1, events=0)
    assert await counts(sessions) == {
        "messages": 3,
        "message_recipients": 3,
        "message_categories": 3,
        "events": 3,
        "stats_daily": 1,
    }
    async with sessions() as session:
        kept = set(await session.scalars(select(Message.id)))
    assert kept == {"m7", "m8", "m9"}
    assert await retention.prune() == Pruned()
    if database.kind != "sqlite":  # PostgreSQL's autovacuum keeps its own statistics
        return
    async with sessions() as session:  # the planner's statistics were refreshed
        tables = set(await session.scalars(text("SELECT tbl FROM sqlite_stat1")))
    assert {"messages", "message_recipients", "message_categories"} <= tables


async def test_events_may_be_kept_shorter(sessions: Any) -> None:
    async with sessions() as session:
        session.add_all(message(1, age_days=10))
        session.add_all(message(2, age_days=1))
        await session.commit()
    retention = Retention(sessions, RetentionPolicy(message_days=30, event_days=7), FakeClock(NOW))
    assert await retention.prune() == Pruned(messages=0, events=1)
    assert await counts(sessions) == {
        "messages": 2,
        "message_recipients": 2,
        "message_categories": 2,
        "events": 1,
        "stats_daily": 0,
    }


async def test_zero_days_keeps_everything(sessions: Any) -> None:
    async with sessions() as session:
        session.add_all(message(1, age_days=4000))
        await session.commit()
    retention = Retention(sessions, RetentionPolicy(message_days=0, event_days=0), FakeClock(NOW))
    assert await retention.prune() == Pruned()
    assert (await counts(sessions))["messages"] == 1


def parse_message(n: int, age_days: float, status: str) -> ParseMessage:
    received = NOW - age_days * DAY
    return ParseMessage(
        id=f"p{n}", account_id="acme", hostname="parse.acme.example", received_at=received,
        mail_from="a@x.io", rcpt=["r@parse.acme.example"], sender_ip="192.0.2.1", size=3,
        raw=b"abc", status=status, attempts=1, next_attempt_at=received,
        gives_up_at=received + 3 * DAY, lease_until=0.0, last_attempt_at=received,
        last_status=200, last_error="",
    )  # fmt: skip


async def test_posted_parse_mail_goes_with_the_message_log(sessions: Any) -> None:
    async with sessions() as session:
        session.add_all(
            [
                parse_message(1, 40, "delivered"),
                parse_message(2, 40, "failed"),
                parse_message(3, 40, "pending"),  # still being tried: kept
                parse_message(4, 2, "delivered"),
            ]
        )
        await session.commit()
    retention = Retention(sessions, RetentionPolicy(message_days=30), FakeClock(NOW))
    assert await retention.prune() == Pruned(parse_messages=2)
    async with sessions() as session:
        left = await session.scalars(select(ParseMessage.id).order_by(ParseMessage.id))
        assert list(left) == ["p3", "p4"]
