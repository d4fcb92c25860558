"""The stats and message-activity sinks, through a real EventBus on a real SQLite database:
daily aggregates per account, category and UTC day; unique opens and clicks; drop reasons;
the message log's last_event_time and counters. The pure metric mapping as a table."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from mta.core.events import (
    Bounce,
    Click,
    Deferred,
    Delivered,
    Dropped,
    Event,
    GroupUnsubscribe,
    Open,
    Processed,
    SpamReport,
    Unsubscribe,
)
from mta.db.models import DailyStats, Message
from mta.events.bus import EventBus, MessageLogEntry
from mta.events.stats import (
    METRICS,
    MessageActivitySink,
    StatsSink,
    drop_metric,
    event_metrics,
    first_engagements,
    utc_day,
)
from tests.support.databases import Database, migrated_sessions

DAY1 = 1767225600  # 2026-01-01T00:00:00Z
DAY2 = DAY1 + 86400


@pytest.fixture
async def sessions(database: Database, tmp_path: Path) -> AsyncIterator[Any]:
    async with migrated_sessions(database, tmp_path, ("acme", "other")) as made:
        yield made


def entry(
    message_id: str, account: str = "acme", categories: Sequence[str] = ()
) -> MessageLogEntry:
    return MessageLogEntry(
        message_id=message_id,
        account_id=account,
        api_key_id=None,
        from_email="news@mail.example.com",
        subject="Hello",
        template_id=None,
        categories=list(categories),
        custom_args={},
        sandbox=False,
        recipients=[(0, "ada@example.com"), (1, "bob@example.com")],
        created_at=DAY1 - 10.0,
    )


def about(message_id: str, index: int = 0, **more: Any) -> dict[str, Any]:
    emails = ["ada@example.com", "bob@example.com"]
    fields = {"account_id": "acme", "message_id": message_id, "email": emails[index]}
    return {**fields, "recipient_index": index, "timestamp": DAY1 + 60, **more}


async def run_bus(
    sessions: Any, caplog: pytest.LogCaptureFixture, *batches: Sequence[MessageLogEntry | Event]
) -> None:
    bus = EventBus(sessions, sinks=[MessageActivitySink(), StatsSink()])
    bus.start()
    try:
        for batch in batches:
            for item in batch:
                if isinstance(item, MessageLogEntry):
                    bus.accepted(item)
                else:
                    bus.emit(item)
            await bus.flush()  # each batch its own transaction
    finally:
        await bus.stop()
    assert "event_batch_failed" not in caplog.text


async def stats(sessions: Any, account: str = "acme") -> dict[tuple[str, str], dict[str, int]]:
    async with sessions() as session:
        rows = await session.scalars(select(DailyStats).where(DailyStats.account_id == account))
        return {
            (r.category, r.day): {m: getattr(r, m) for m in METRICS if getattr(r, m)} for r in rows
        }


@pytest.mark.parametrize(
    ("event", "metrics"),
    [
        (Processed(**about("m")), ("processed", "requests")),
        (Delivered(**about("m"), response="250 ok"), ("delivered",)),
        (Deferred(**about("m"), response="451", status="4.0.0", attempt=1), ("deferred",)),
        (Bounce(**about("m"), reason="550", status="5.1.1"), ("bounces",)),
        (Bounce(**about("m"), reason="550", status="5.7.1", type="blocked"), ("blocks",)),
        (Dropped(**about("m"), reason="Bounced Address"), ("bounce_drops",)),
        (Dropped(**about("m"), reason="Spam Reporting Address"), ("spam_report_drops",)),
        (Dropped(**about("m"), reason="Unsubscribed Address"), ("unsubscribe_drops",)),
        (Dropped(**about("m"), reason="Invalid"), ("invalid_emails",)),
        (Dropped(**about("m"), reason="batch cancelled"), ()),
        (Open(**about("m")), ("opens",)),
        (Click(**about("m"), url="https://x.io"), ("clicks",)),
        (SpamReport(**about("m")), ("spam_reports",)),
        (Unsubscribe(**about("m")), ("unsubscribes",)),
        (GroupUnsubscribe(**about("m"), asm_group_id=3), ("unsubscribes",)),
    ],
)
def test_event_metrics(event: Event, metrics: tuple[str, ...]) -> None:
    assert event_metrics(event) == metrics
    assert set(metrics) <= set(METRICS)


@pytest.mark.parametrize(
    ("reason", "metric"),
    [
        ("Bounced Address", "bounce_drops"),
        ("bounced address", "bounce_drops"),
        ("Spam Reporting Address", "spam_report_drops"),
        ("complaint", "spam_report_drops"),
        ("Unsubscribed Address", "unsubscribe_drops"),
        ("unsubscribed from group 4", "unsubscribe_drops"),
        ("Invalid", "invalid_emails"),
        ("", None),
        ("scheduled send cancelled", None),
    ],
)
def test_drop_metric(reason: str, metric: str | None) -> None:
    assert drop_metric(reason) == metric


def test_utc_day_is_utc() -> None:
    assert utc_day(DAY1) == "2026-01-01"
    assert utc_day(DAY2 - 1) == "2026-01-01"


def test_first_engagements_per_recipient_and_kind() -> None:
    first = Open(**about("m", 0, timestamp=DAY1 + 1))
    again = Open(**about("m", 0, timestamp=DAY1 + 2))
    other = Open(**about("m", 1, timestamp=DAY1 + 3))
    click = Click(**about("m", 0, timestamp=DAY1 + 4), url="u")
    events = [again, first, other, click]
    assert first_engagements(events, set()) == {first.event_id, other.event_id, click.event_id}
    earlier = {("m", "ada@example.com", "open")}
    assert first_engagements(events, earlier) == {other.event_id, click.event_id}


async def test_daily_aggregates(sessions: Any, caplog: pytest.LogCaptureFixture) -> None:
    cats = {"categories": ["welcome", "promo"]}
    await run_bus(
        sessions,
        caplog,
        [
            entry("m1", categories=["welcome", "promo"]),
            Processed(**about("m1", 0, **cats)),
            Processed(**about("m1", 1, **cats)),
            Delivered(**about("m1", 0, **cats), response="250 ok"),
            Bounce(**about("m1", 1, **cats), reason="550", status="5.1.1"),
        ],
        [
            # Engagement from tracking may carry no categories: the message's are used.
            Open(**about("m1", 0)),
            Open(**about("m1", 0, timestamp=DAY2 + 5)),
            Click(**about("m1", 0, timestamp=DAY2 + 6), url="https://x.io"),
        ],
        [Open(**about("m1", 0, timestamp=DAY2 + 7)), Open(**about("m1", 1, timestamp=DAY2 + 8))],
    )
    day1 = {
        "processed": 2,
        "requests": 2,
        "delivered": 1,
        "bounces": 1,
        "opens": 1,
        "unique_opens": 1,
    }
    day2 = {"opens": 3, "unique_opens": 1, "clicks": 1, "unique_clicks": 1}
    found = await stats(sessions)
    for category in ("", "welcome", "promo"):
        assert found[(category, "2026-01-01")] == day1
        assert found[(category, "2026-01-02")] == day2
    assert len(found) == 6
    assert await stats(sessions, "other") == {}


async def test_accounts_are_kept_apart(sessions: Any, caplog: pytest.LogCaptureFixture) -> None:
    theirs = {"account_id": "other"}
    await run_bus(
        sessions,
        caplog,
        [entry("m1"), entry("m2", account="other"), Processed(**about("m1"))],
        [Processed(**{**about("m2"), **theirs}), Open(**{**about("m2"), **theirs})],
    )
    assert await stats(sessions) == {("", "2026-01-01"): {"processed": 1, "requests": 1}}
    assert await stats(sessions, "other") == {
        ("", "2026-01-01"): {"processed": 1, "requests": 1, "opens": 1, "unique_opens": 1}
    }


async def test_message_activity(sessions: Any, caplog: pytest.LogCaptureFixture) -> None:
    await run_bus(
        sessions,
        caplog,
        [entry("m1"), entry("m2"), Processed(**about("m1"))],
        [
            Open(**about("m1", 0, timestamp=DAY1 + 500)),
            Open(**about("m1", 1, timestamp=DAY1 + 400)),
            Click(**about("m1", 0, timestamp=DAY1 + 450), url="u"),
        ],
        [Delivered(**about("m1", timestamp=DAY1 + 100), response="250")],  # late, older
    )
    async with sessions() as session:
        rows = {m.id: m for m in await session.scalars(select(Message))}
    assert rows["m1"].last_event_time == DAY1 + 500
    assert (rows["m1"].opens_count, rows["m1"].clicks_count) == (2, 1)
    assert rows["m2"].last_event_time == DAY1 - 10.0  # its acceptance
    assert (rows["m2"].opens_count, rows["m2"].clicks_count) == (0, 0)


async def test_sinks_ignore_an_empty_batch(sessions: Any) -> None:
    async with sessions() as session, session.begin():
        await StatsSink().apply(session, [])
        await MessageActivitySink().apply(session, [])
    assert await stats(sessions) == {}
