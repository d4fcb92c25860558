"""`query=` with OR, NOT, !=, NOT IN, LIKE and Contains run against a real database (SQLite
and PostgreSQL) filled through the real EventBus: the right messages come back, NOT means
"has not" for recipients and categories, and LIKE is case-sensitive with its escapes."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, text

from mta.core.events import Bounce, Deferred, Delivered, Dropped, Processed
from mta.db.models import Message
from mta.events.bus import EventBus, MessageLogEntry
from mta.events.stats import MessageActivitySink, StatsSink
from mta.services import messages
from mta.services.identity import Principal
from mta.services.message_filter import NO_FILTER, TimeRange
from mta.services.message_query import parse_query
from mta.services.messages import MessageService, apply_filter

T0 = 1767225600.0  # 2026-01-01T00:00:00Z; message n's last event is at T0 + 100 + n
ADMIN = Principal(account_id="acme", kind="jwt", subject="u")
# n: (subject, recipients, categories, template_id, api_key_id, outcome)
MESSAGES: dict[int, tuple[str, list[str], list[str], str | None, str | None, str]] = {
    1: ("Receipt 1_000", ["ada@example.com"], ["receipts"], None, "k1", "delivered"),
    2: ("Receipt 1000", ["bob@example.com"], ["receipts", "vip"], "d-a", "k2", "delivered"),
    3: ("receipt lower", ["ada@example.com"], [], "d-b", "k1", "bounce"),
    4: ("Your 100% offer", ["carl@example.org"], ["promo"], None, "k2", "processed"),
    5: (
        "Weekly news",
        ["dora@example.com", "ada@example.com"],
        ["news", "promo"],
        "d-a",
        "k1",
        "dropped",
    ),
    6: ("C:\\temp [draft] *", ["eve@example.net"], [], None, None, "deferred"),
    7: ("Café receipt", ["Fay@example.com"], ["receipts"], None, "k2", ""),  # no event yet
}
BETWEEN = (
    'last_event_time BETWEEN TIMESTAMP "2026-01-01T00:01:42Z" AND TIMESTAMP "2026-01-01T00:01:45Z"'
)


def entry(n: int, account: str = "acme") -> MessageLogEntry:
    subject, recipients, categories, template_id, api_key_id, _ = MESSAGES[n]
    return MessageLogEntry(
        message_id=f"m{n}" if account == "acme" else f"x{n}",
        account_id=account,
        api_key_id=api_key_id,
        from_email="news@mail.example.com",
        subject=subject,
        template_id=template_id,
        categories=categories,
        custom_args={},
        sandbox=False,
        recipients=list(enumerate(recipients)),
        created_at=T0 + n,
    )


def outcomes(n: int) -> list[Any]:
    outcome = MESSAGES[n][5]
    kind = {
        "delivered": lambda **f: Delivered(**f, response="250 ok"),
        "bounce": lambda **f: Bounce(**f, reason="550 unknown", status="5.1.1"),
        "processed": lambda **f: Processed(**f),
        "dropped": lambda **f: Dropped(**f, reason="unsubscribed"),
        "deferred": lambda **f: Deferred(**f, response="451 later", status="4.0.0", attempt=1),
    }.get(outcome)
    if kind is None:
        return []
    return [
        kind(
            account_id="acme",
            message_id=f"m{n}",
            email=email,
            recipient_index=index,
            timestamp=int(T0) + 100 + n,
        )
        for index, email in enumerate(MESSAGES[n][1])
    ]


@pytest.fixture
async def log(sessions: Any) -> MessageService:
    bus = EventBus(sessions, sinks=[MessageActivitySink(), StatsSink()])
    bus.start()
    for n in MESSAGES:
        bus.accepted(entry(n))
    bus.accepted(entry(2, account="other"))  # the same subject and category elsewhere
    await bus.flush()
    for n in MESSAGES:
        for event in outcomes(n):
            bus.emit(event)
    await bus.stop()
    return MessageService(sessions)


async def ids(service: MessageService, query: str) -> list[str]:
    return [m.id for m in await service.list(ADMIN, parse_query(query), page_size=1000)]


def newest_first(*numbers: int) -> list[str]:
    return [f"m{n}" for n in sorted(numbers, reverse=True)]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # OR, alone and with the `not_delivered` alias.
        ('to_email="bob@example.com" OR subject="Weekly news"', (5, 2)),
        ('status="bounced" OR categories="vip"', (3, 2)),
        ('status="not_delivered" OR status="deferred"', (6, 5, 3)),
        ('categories="receipts" OR Contains(categories, "promo")', (7, 5, 4, 2, 1)),
        ('msg_id="m1" OR msg_id="m2" AND status="bounced"', (1,)),
        ('(msg_id="m1" OR msg_id="m2") AND status="delivered"', (2, 1)),
        # NOT, !=, NOT IN: "has not" for recipients and categories, NULL kept.
        ('NOT status="delivered"', (7, 6, 5, 4, 3)),
        ('NOT status="not_delivered"', (7, 6, 4, 2, 1)),
        ('NOT (status="delivered" OR status="not_delivered")', (7, 6, 4)),
        ('status NOT IN ("delivered", "not_delivered", "deferred")', (7, 4)),
        ('NOT categories="promo"', (7, 6, 3, 2, 1)),
        ('categories != "receipts"', (6, 5, 4, 3)),
        ('NOT Contains(categories, "receipts") AND NOT categories="promo"', (6, 3)),
        ('categories NOT IN ("receipts", "promo")', (6, 3)),
        ('categories="receipts" AND NOT categories="vip"', (7, 1)),
        ('Contains(categories, "receipts") AND categories="vip"', (2,)),
        ('template_id != "d-a"', (7, 6, 4, 3, 1)),
        ('api_key_id != "k1"', (7, 6, 4, 2)),
        ('to_email != "ada@example.com"', (7, 6, 4, 2)),
        ('NOT to_email IN ("ada@example.com", "bob@example.com")', (7, 6, 4)),
        ('msg_id != "m9"', (7, 6, 5, 4, 3, 2, 1)),
        # LIKE: prefix, suffix, infix, case, `_` and `%` as wildcards and escaped.
        ('subject LIKE "Receipt%"', (2, 1)),
        ('subject LIKE "%receipt"', (7,)),
        ('subject LIKE "%eceipt%"', (7, 3, 2, 1)),
        ('subject LIKE "receipt%"', (3,)),
        ('subject LIKE "RECEIPT%"', ()),
        ('subject LIKE "Receipt 1_0%"', (2, 1)),
        ('subject LIKE "Receipt 1\\_0%"', (1,)),
        ('subject LIKE "Receipt 1\\\\_0%"', (1,)),
        ('subject LIKE "%100%"', (4, 2)),
        ('subject LIKE "%100\\%%"', (4,)),
        ('subject LIKE "C:\\\\\\\\temp%"', (6,)),
        ('subject LIKE "%[draft] *"', (6,)),
        ('subject LIKE "%?%"', ()),
        ('subject LIKE "Caf_ receipt"', (7,)),
        ('subject NOT LIKE "%eceipt%"', (6, 5, 4)),
        ('to_email LIKE "%@Example.ORG"', (4,)),
        ('to_email LIKE "ada@%"', (5, 3, 1)),
        ('NOT to_email LIKE "%@example.com"', (6, 4)),
        ('categories LIKE "pro%"', (5, 4)),
        ('categories IN ("vip", "news")', (5, 2)),
        # With last_event_time: ranges, NOT BETWEEN (no event yet: in no range), mixes.
        (BETWEEN, (5, 4, 3, 2)),
        (f"NOT {BETWEEN}", (7, 6, 1)),
        (BETWEEN.replace("BETWEEN", "NOT BETWEEN"), (7, 6, 1)),
        (f'{BETWEEN} OR categories="receipts"', (7, 5, 4, 3, 2, 1)),
        (f'categories="receipts" AND {BETWEEN}', (2,)),
        (f'categories="receipts" AND NOT {BETWEEN}', (7, 1)),
        (
            'subject LIKE "%eceipt%" AND last_event_time >= TIMESTAMP "2026-01-01T00:01:42Z" '
            'OR to_email="dora@example.com"',
            (5, 3, 2),
        ),
        (
            f'NOT (status="delivered" OR {BETWEEN}) AND NOT Contains(categories, "receipts")',
            (6,),
        ),
    ],
)
async def test_queries(log: MessageService, query: str, expected: tuple[int, ...]) -> None:
    assert await ids(log, query) == newest_first(*expected)


async def test_a_negation_never_reaches_another_account(log: MessageService) -> None:
    everything = await ids(log, 'NOT msg_id="m1" OR msg_id="m1"')
    assert everything == newest_first(*MESSAGES)


async def test_the_common_case_stays_on_the_recipient_index(
    log: MessageService, sessions: Any
) -> None:
    """to_email AND status: the recipient's few messages are found through its index."""
    wanted = parse_query('to_email="ada@example.com" AND status="delivered"')
    async with sessions() as session:
        dialect = session.get_bind().dialect
        if dialect.name != "sqlite":
            pytest.skip("EXPLAIN QUERY PLAN is SQLite's")
        await session.execute(text("ANALYZE"))
        query = apply_filter(
            select(Message.id).where(Message.account_id == "acme"), "acme", wanted, "sqlite"
        )
        compiled = query.compile(dialect=dialect, compile_kwargs={"literal_binds": True})
        plan = [row[-1] for row in await session.execute(text(f"EXPLAIN QUERY PLAN {compiled}"))]
    assert any("ix_message_recipients_email" in step for step in plan), plan
    assert not any(step.startswith("SCAN message_recipients") for step in plan), plan


LIKES = [
    ('subject LIKE "Receipt%"', (2, 1)),
    ('subject LIKE "Receipt 1\\_0%"', (1,)),
    ('subject LIKE "C:\\\\\\\\temp%"', (6,)),
    ('subject NOT LIKE "Rec%" AND subject LIKE "receipt%"', (3,)),
    ('from_email LIKE "news@%" AND status="bounced"', (3,)),
]


@pytest.mark.parametrize(("query", "expected"), LIKES)
async def test_a_broad_prefix_finds_the_same_messages(
    log: MessageService, monkeypatch: pytest.MonkeyPatch, query: str, expected: tuple[int, ...]
) -> None:
    """Every prefix counts as broad here (tested row by row): the answers do not change."""
    monkeypatch.setattr(messages, "BROAD_PREFIX", 1)
    assert await ids(log, query) == newest_first(*expected)


async def test_a_broad_prefix_walks_the_newest_first_index(
    log: MessageService, sessions: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite answers a prefix from the subject's index and sorts all its matches; a prefix
    that many messages share is tested on the rows of the (account, created_at) walk."""
    wanted = parse_query('subject LIKE "Receipt%"')
    async with sessions() as session:
        dialect = session.get_bind().dialect
        if dialect.name != "sqlite":
            pytest.skip("EXPLAIN QUERY PLAN is SQLite's")
        assert await messages._broad_likes(session, "acme", wanted, "sqlite") == frozenset()
        monkeypatch.setattr(messages, "BROAD_PREFIX", 2)  # m1 and m2 share the prefix
        broad = await messages._broad_likes(session, "acme", wanted, "sqlite")
        assert broad == frozenset({"subject"})
        plans = []
        for unindexed in (frozenset(), broad):
            query = apply_filter(
                select(Message.id).where(Message.account_id == "acme"),
                "acme",
                wanted,
                "sqlite",
                unindexed,
            )
            compiled = query.compile(dialect=dialect, compile_kwargs={"literal_binds": True})
            found = await session.execute(text(f"EXPLAIN QUERY PLAN {compiled}"))
            plans.append(" ".join(row[-1] for row in found))
    assert "ix_messages_account_subject" in plans[0], plans
    assert "ix_messages_account_created" in plans[1], plans


async def test_the_time_a_message_was_accepted_and_an_offset(log: MessageService) -> None:
    accepted = TimeRange(after=T0 + 2, before=T0 + 4, field="created_at")
    listed = await log.list(ADMIN, accepted, page_size=10)
    assert [m.id for m in listed] == newest_first(4, 3, 2)
    since = await log.list(ADMIN, TimeRange(after=T0 + 6, field="created_at"), page_size=10)
    assert [m.id for m in since] == newest_first(7, 6)  # m7 has no event yet: still listed
    later = await log.list(ADMIN, NO_FILTER, page_size=2, offset=2)
    assert [m.id for m in later] == newest_first(5, 4)
