"""The event feed on a real database (SQLite and PostgreSQL) filled through the real EventBus:
id order after a cursor and a start time, pages, the type and recipient filters, the webhook's
payload with custom args, another account's events never, and bad parameters refused."""

from __future__ import annotations

from typing import Any

import pytest

from mta.core.errors import ValidationError
from mta.core.events import Bounce, Click, Delivered, Event, Processed, webhook_payload
from mta.core.model import id_floor, new_id
from mta.events.bus import EventBus
from mta.services.event_feed import EventFeed, feed_query
from mta.services.identity import Principal

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
ACME = Principal(account_id="acme", kind="jwt", subject="u")
OTHER = Principal(account_id="other", kind="jwt", subject="v")


def about(n: int, account: str = "acme", email: str = "ada@example.com") -> dict[str, Any]:
    """Event n of a message, made n seconds after T0 (its id sorts by that)."""
    return {
        "account_id": account,
        "message_id": f"m{n}",
        "email": email,
        "recipient_index": -1,  # no message log row to move
        "event_id": new_id(T0 + n),
        "timestamp": int(T0) + n,
        "custom_args": {"order": str(n)},
    }


EVENTS: list[Event] = [
    Processed(**about(1)),
    Delivered(**about(2), response="250 2.0.0 ok"),
    Bounce(**about(3, email="Gone@Example.com"), reason="550 5.1.1 unknown", status="5.1.1"),
    Processed(**about(4, account="other")),
    Click(**about(5), url="https://example.com/a"),
    Delivered(**about(6, email="bob@example.com"), response="250 ok"),
]


@pytest.fixture
async def feed(sessions: Any) -> EventFeed:
    bus = EventBus(sessions)
    bus.start()
    for event in reversed(EVENTS):  # committed in any order: read back in id order
        bus.emit(event)
    await bus.stop()
    return EventFeed(sessions)


async def page(feed: EventFeed, principal: Principal = ACME, **asked: Any) -> list[str]:
    found = await feed.page(principal, feed_query(**asked))
    return [e["message_id"] for e in found.events]


async def test_events_in_id_order_after_the_cursor(feed: EventFeed) -> None:
    assert await page(feed) == ["m1", "m2", "m3", "m5", "m6"]
    first = await feed.page(ACME, feed_query(limit=2))
    assert [e["message_id"] for e in first.events] == ["m1", "m2"]
    assert first.next == first.events[-1]["event_id"]
    assert await page(feed, after=first.next) == ["m3", "m5", "m6"]
    assert await page(feed, start_time=int(T0) + 3) == ["m3", "m5", "m6"]
    assert await page(feed, after=id_floor(T0 + 5)) == ["m5", "m6"]
    last = await feed.page(ACME, feed_query(after=id_floor(T0 + 7)))
    assert last.events == [] and last.next == id_floor(T0 + 7)  # the cursor asked with


async def test_filters_by_type_and_recipient(feed: EventFeed) -> None:
    assert await page(feed, event_types=["delivered"]) == ["m2", "m6"]
    assert await page(feed, event_types=["bounce", "click", "bounce"]) == ["m3", "m5"]
    assert await page(feed, email="gone@example.COM") == ["m3"]  # any case
    assert await page(feed, email="ada@example.com", event_types=["processed"]) == ["m1"]
    assert await page(feed, email="nobody@example.com") == []


async def test_each_event_is_the_webhooks_payload(feed: EventFeed) -> None:
    found = (await feed.page(ACME, feed_query())).events
    assert found == [webhook_payload(e) for e in EVENTS if e.account_id == "acme"]
    click = found[3]
    assert click["event"] == "click" and click["url"] == "https://example.com/a"
    assert click["order"] == "5" and "account_id" not in click  # custom args flattened


async def test_an_account_sees_only_its_own_events(feed: EventFeed) -> None:
    assert await page(feed, OTHER) == ["m4"]
    assert "m4" not in await page(feed, ACME, limit=1000)
    nobody = Principal(account_id="nobody", kind="jwt", subject="w")
    assert await page(feed, nobody) == []


@pytest.mark.parametrize(
    ("asked", "field"),
    [
        ({"after": "not-an-id"}, "after"),
        ({"after": "A" * 32}, "after"),
        ({"after": "0" * 33}, "after"),
        ({"start_time": -1}, "start_time"),
        ({"event_types": ["delivered", "bounced"]}, "event"),
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
    ],
)
def test_bad_parameters_name_their_field(asked: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as refused:
        feed_query(**asked)
    assert refused.value.field == field
