"""The message log service on a real SQLite database filled through the real EventBus: every
filter, the access rule (account, key), tenant isolation, page sizes and the views' fields."""

from __future__ import annotations

from typing import Any

import pytest

from mta.core.errors import NotFound, PermissionDenied, ValidationError
from mta.core.events import Bounce, Click, Delivered, Open, Processed
from mta.events.bus import EventBus, MessageLogEntry
from mta.events.stats import MessageActivitySink, StatsSink
from mta.services.identity import Principal
from mta.services.message_filter import NO_FILTER, Match, MessageFilter
from mta.services.message_query import parse_query
from mta.services.messages import MessageService

T0 = 1767225600.0  # 2026-01-01T00:00:00Z
ADMIN = Principal(account_id="acme", kind="jwt", subject="u")
READER = Principal(
    account_id="acme", kind="api_key", subject="k", scopes=frozenset({"messages.read"})
)
SENDER = Principal(
    account_id="acme",
    kind="api_key",
    subject="k1",
    scopes=frozenset({"mail.send"}),
    api_key_id="k1",
)


def entry(n: int, **changes: Any) -> MessageLogEntry:
    fields: dict[str, Any] = {
        "message_id": f"m{n}",
        "account_id": "acme",
        "api_key_id": "k1" if n % 2 else "k2",
        "from_email": "news@mail.example.com" if n % 3 else "billing@mail.example.com",
        "subject": f"Subject {n % 4}",
        "template_id": "d-welcome" if n == 5 else None,
        "categories": {2: ["welcome"], 4: ["welcome"], 6: ["promo", "welcome"]}.get(n, []),
        "custom_args": {"order": str(n)},
        "sandbox": False,
        "recipients": [(0, f"user{n}@example.com"), (1, "Shared@example.com")],
        "created_at": T0 + n,
    }
    fields.update(changes)
    return MessageLogEntry(**fields)


def about(n: int, index: int = 0, account: str = "acme") -> dict[str, Any]:
    email = f"user{n}@example.com" if index == 0 else "Shared@example.com"
    return {
        "account_id": account,
        "message_id": f"m{n}",
        "email": email,
        "recipient_index": index,
        "timestamp": int(T0) + 100 + n,
    }


@pytest.fixture
async def log(sessions: Any) -> MessageService:
    bus = EventBus(sessions, sinks=[MessageActivitySink(), StatsSink()])
    bus.start()
    for n in range(1, 9):
        bus.accepted(entry(n))
    bus.accepted(entry(9, account_id="other", api_key_id="k9"))
    await bus.flush()
    for n in range(1, 9):
        for index in (0, 1):
            bus.emit(Processed(**{**about(n, index), "timestamp": int(T0) + 50 + n}))
    bus.emit(Processed(**about(9, account="other")))
    for n in (1, 2, 3):
        bus.emit(Delivered(**about(n), response="250 ok"))
        bus.emit(Delivered(**about(n, 1), response="250 ok"))
    bus.emit(Bounce(**about(4), reason="550 no such user", status="5.1.1", mx="mx.example.com"))
    bus.emit(Bounce(**about(4, 1), reason="550 no such user", status="5.1.1"))
    bus.emit(Open(**about(1), useragent="Mail/1"))
    bus.emit(Click(**about(1), url="https://example.com/a"))
    await bus.stop()
    return MessageService(sessions)


async def ids(service: MessageService, wanted: MessageFilter, who: Principal = ADMIN) -> list[str]:
    return [m.id for m in await service.list(who, wanted, page_size=1000)]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('to_email="user3@example.com"', ["m3"]),
        ('to_email="Shared@EXAMPLE.com"', ["m8", "m7", "m6", "m5", "m4", "m3", "m2", "m1"]),
        ('to_email="shared@example.com"', []),  # the local part is as sent
        ('from_email="billing@mail.example.com"', ["m6", "m3"]),
        ('subject="Subject 1"', ["m5", "m1"]),
        ('status="delivered"', ["m3", "m2", "m1"]),
        ('status="not_delivered"', ["m4"]),
        ('status IN ("bounced", "processed")', ["m8", "m7", "m6", "m5", "m4"]),
        ('msg_id="m7"', ["m7"]),
        ('msg_id="m9"', []),  # another account's
        ('template_id="d-welcome"', ["m5"]),
        ('categories="welcome"', ["m6", "m4", "m2"]),
        ('categories="promo"', ["m6"]),
        ('categories IN ("promo", "welcome")', ["m6", "m4", "m2"]),  # m6 once
        ('categories IN ("promo", "welcome") AND msg_id IN ("m2", "m6")', ["m6", "m2"]),
        ('api_key_id="k2"', ["m8", "m6", "m4", "m2"]),
        ('api_key_id="k9"', []),
        ('categories="welcome" AND status="delivered"', ["m2"]),
        (
            'last_event_time BETWEEN TIMESTAMP "2026-01-01T00:01:42Z" '
            'AND TIMESTAMP "2026-01-01T00:01:44Z"',
            ["m4", "m3", "m2"],
        ),
        ('last_event_time <= TIMESTAMP "2026-01-01T00:00:56Z"', ["m6", "m5"]),
    ],
)
async def test_filters(log: MessageService, query: str, expected: list[str]) -> None:
    assert await ids(log, parse_query(query)) == expected


async def test_no_filter_lists_the_account_newest_first(log: MessageService) -> None:
    assert await ids(log, NO_FILTER) == [f"m{n}" for n in range(8, 0, -1)]
    theirs = Principal(account_id="other", kind="jwt", subject="o")
    assert await ids(log, NO_FILTER, theirs) == ["m9"]


async def test_a_send_key_sees_what_it_sent(log: MessageService) -> None:
    assert await ids(log, NO_FILTER, SENDER) == ["m7", "m5", "m3", "m1"]
    assert await ids(log, Match("api_key_id", ("k2",)), SENDER) == []
    assert await ids(log, NO_FILTER, READER) == [f"m{n}" for n in range(8, 0, -1)]
    with pytest.raises(NotFound):
        await log.get(SENDER, "m2")


async def test_a_key_without_a_read_scope_is_refused(log: MessageService) -> None:
    nobody = Principal(account_id="acme", kind="api_key", subject="x", scopes=frozenset())
    with pytest.raises(PermissionDenied):
        await log.list(nobody, NO_FILTER, page_size=10)
    with pytest.raises(PermissionDenied):
        await log.get(nobody, "m1")


async def test_another_accounts_message_is_not_found(log: MessageService) -> None:
    with pytest.raises(NotFound):
        await log.get(ADMIN, "m9")


@pytest.mark.parametrize("size", [0, -1, 1001])
async def test_page_size_bounds(log: MessageService, size: int) -> None:
    with pytest.raises(ValidationError) as raised:
        await log.list(ADMIN, NO_FILTER, page_size=size, size_field="limit")
    assert raised.value.field == "limit"


async def test_page_size_limits_the_list(log: MessageService) -> None:
    assert [m.id for m in await log.list(ADMIN, NO_FILTER, page_size=3)] == ["m8", "m7", "m6"]


async def test_views_carry_both_names(log: MessageService) -> None:
    [listed] = await log.list(ADMIN, Match("msg_id", ("m1",)), page_size=1)
    assert (listed.id, listed.msg_id, listed.status) == ("m1", "m1", "delivered")
    assert listed.to_email == "user1@example.com"
    assert listed.to_emails == ["user1@example.com", "Shared@example.com"]
    assert (listed.opens_count, listed.clicks_count) == (1, 1)
    assert listed.last_event_time == "2026-01-01T00:01:41Z"
    assert listed.unique_args == {"order": "1"}
    assert listed.api_key_id == "k1"
    assert listed.events is None


async def test_one_message_with_its_events(log: MessageService) -> None:
    message = await log.get(ADMIN, "m4")
    assert message.status == "bounced"
    assert message.events is not None
    kinds = [(e.event_type, e.event_name) for e in message.events]
    assert kinds == [
        ("processed", "processed"),
        ("processed", "processed"),
        ("bounce", "bounced"),
        ("bounce", "bounced"),
    ]
    bounce = message.events[2]
    assert bounce.timestamp == int(T0) + 104
    assert bounce.processed == "2026-01-01T00:01:44Z"
    assert (bounce.reason, bounce.bounce_type, bounce.attempt_num) == (
        "550 no such user",
        "hard",
        1,
    )
    assert bounce.data["status"] == "5.1.1"
    clicked = (await log.get(ADMIN, "m1")).events or []
    click = next(e for e in clicked if e.event_type == "click")
    assert (click.event_name, click.url) == ("clicked", "https://example.com/a")
