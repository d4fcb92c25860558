"""Suppression lists and unsubscribe groups on a real SQLite database: events written through
the real EventBus and its suppression sink, idempotent across batches; intake's lookup; `why`;
groups; and tenant isolation between the accounts `acme` and `other`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from mta.core.errors import NotFound, ValidationError
from mta.core.events import (
    Bounce,
    Event,
    GroupResubscribe,
    GroupUnsubscribe,
    SpamReport,
    Unsubscribe,
)
from mta.events.bus import EventBus
from mta.services.asm_groups import AsmGroupService
from mta.services.suppression_sink import SuppressionSink
from mta.services.suppressions import SuppressionService, containing


@pytest.fixture
async def bus(sessions: Any) -> AsyncIterator[EventBus]:
    bus = EventBus(sessions, sinks=[SuppressionSink()])
    bus.start()
    yield bus
    await bus.stop()


async def emit(bus: EventBus, events: Sequence[Event]) -> None:
    for event in events:
        bus.emit(event)
    await bus.flush()


def hard(email: str, account: str = "acme") -> Bounce:
    return Bounce(
        account_id=account,
        message_id="m1",
        email=email,
        reason="550 5.1.1 user unknown",
        status="5.1.1",
    )


async def test_events_fill_the_lists_once(sessions: Any, bus: EventBus) -> None:
    service = SuppressionService(sessions)
    spam = SpamReport(account_id="acme", message_id="m2", email="b@x.io")
    await emit(bus, [hard("Ada@Example.com"), hard("ada@example.com"), spam])
    last = hard("ADA@example.com")
    await emit(bus, [last])  # a second batch: still one entry, caused by the newest event
    bounces = await service.list_entries("acme", "bounces")
    assert [(e.email, e.status, e.reason) for e in bounces] == [
        ("ada@example.com", "5.1.1", "550 5.1.1 user unknown")
    ]
    why = await service.why("acme", "ada@example.com")
    assert [w.event.event_id for w in why if w.event] == [last.event_id]
    assert [e.email for e in await service.list_entries("acme", "spam_reports")] == ["b@x.io"]
    assert await service.list_entries("other", "bounces") == []


async def test_lookup_and_why(sessions: Any, bus: EventBus) -> None:
    service, groups = SuppressionService(sessions), AsmGroupService(sessions)
    group = await groups.create("acme", "News", "Weekly news", False)
    cause = Unsubscribe(account_id="acme", message_id="m3", email="c@x.io", method="link")
    leave = GroupUnsubscribe(
        account_id="acme", message_id="m4", email="d@x.io", asm_group_id=group.id
    )
    await emit(bus, [hard("a@x.io"), cause, leave])
    found = await service.lookup("acme", ["A@x.io", "c@x.io", "d@x.io", "e@x.io"], group.id)
    assert found == {"a@x.io": {"bounces"}, "c@x.io": {"unsubscribes"}, "d@x.io": {"group"}}
    assert await service.lookup("acme", ["d@x.io"], None) == {}
    assert await service.lookup("other", ["a@x.io", "c@x.io"], group.id) == {}
    why = await service.why("acme", "C@x.io")
    assert len(why) == 1 and why[0].source == "event" and why[0].event is not None
    assert (why[0].event.event_id, why[0].event.type) == (cause.event_id, "unsubscribe")
    assert why[0].event.message_id == "m3"
    await service.add_global("acme", ["f@x.io"])
    manual = await service.why("acme", "f@x.io")
    assert [(w.list, w.source, w.event) for w in manual] == [("unsubscribes", "api", None)]
    assert await service.why("other", "c@x.io") == []


async def test_group_resubscribe_removes(sessions: Any, bus: EventBus) -> None:
    groups = AsmGroupService(sessions)
    group = await groups.create("acme", "Tips", "", False)
    common: dict[str, Any] = {
        "account_id": "acme",
        "message_id": "m",
        "email": "g@x.io",
        "asm_group_id": group.id,
    }
    await emit(bus, [GroupUnsubscribe(**common)])
    assert await groups.suppressed("acme", group.id) == ["g@x.io"]
    await emit(bus, [GroupResubscribe(**common)])
    assert await groups.suppressed("acme", group.id) == []


async def test_unsubscribe_from_another_accounts_group_is_global(
    sessions: Any, bus: EventBus
) -> None:
    theirs = await AsmGroupService(sessions).create("other", "Theirs", "", False)
    event = GroupUnsubscribe(
        account_id="acme", message_id="m", email="h@x.io", asm_group_id=theirs.id
    )
    await emit(bus, [event])
    assert await SuppressionService(sessions).is_global("acme", "h@x.io")
    assert await AsmGroupService(sessions).suppressed("other", theirs.id) == []


async def test_delete_entries(sessions: Any, bus: EventBus) -> None:
    service = SuppressionService(sessions)
    await emit(bus, [hard("a@x.io"), hard("b@x.io"), hard("c@x.io"), hard("a@x.io", "other")])
    await service.delete_entry("acme", "bounces", "A@x.io")
    with pytest.raises(NotFound):
        await service.delete_entry("acme", "bounces", "a@x.io")
    await service.delete_entries("acme", "bounces", ["b@x.io"], False)
    assert [e.email for e in await service.list_entries("acme", "bounces")] == ["c@x.io"]
    with pytest.raises(ValidationError):
        await service.delete_entries("acme", "bounces", [], False)
    await service.delete_entries("acme", "bounces", [], True)
    assert await service.list_entries("acme", "bounces") == []
    assert [e.email for e in await service.list_entries("other", "bounces")] == ["a@x.io"]


async def test_groups(sessions: Any) -> None:
    groups = AsmGroupService(sessions)
    first = await groups.create("acme", "News", "n", True)
    second = await groups.create("acme", "Tips", "t", True)
    assert [(g.name, g.is_default) for g in await groups.list_groups("acme")] == [
        ("News", False),
        ("Tips", True),
    ]
    with pytest.raises(ValidationError):
        await groups.create("acme", "News", "", False)
    assert await groups.add_suppressions("acme", first.id, ["X@y.io", "x@y.io"]) == ["x@y.io"]
    assert (await groups.get("acme", first.id)).unsubscribes == 1
    assert await groups.suppressed("acme", first.id, ["x@y.io", "z@y.io"]) == ["x@y.io"]
    statuses = await groups.groups_for("acme", "x@y.io")
    assert [(s.id, s.suppressed) for s in statuses] == [(first.id, True), (second.id, False)]
    renamed = await groups.update("acme", first.id, "Newsletter", None, None)
    assert (renamed.name, renamed.description, renamed.unsubscribes) == ("Newsletter", "n", 1)
    with pytest.raises(NotFound):
        await groups.get("other", first.id)
    # Another account's group is no group of theirs: as SendGrid, the address goes global.
    await groups.add_suppressions("other", first.id, ["q@y.io"])
    assert await SuppressionService(sessions).is_global("other", "q@y.io")
    assert await groups.suppressed("acme", first.id) == ["x@y.io"]
    await groups.delete("acme", first.id)
    assert await groups.all_suppressions("acme") == []
    assert [g.id for g in await groups.list_groups("acme")] == [second.id]


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        (None, None),
        ("  ", None),
        ("Ada@X", "%ada@x%"),
        ("a_b%c\\", "%a\\_b\\%c\\\\%"),  # LIKE's wildcards match themselves
    ],
)
def test_email_search_pattern(text: str | None, pattern: str | None) -> None:
    assert containing(text) == pattern


def test_email_search_longer_than_an_address_is_refused() -> None:
    with pytest.raises(ValidationError) as raised:
        containing("a" * 255)
    assert raised.value.field == "email"


async def test_search_and_listed_rows_keep_to_the_account(sessions: Any, bus: EventBus) -> None:
    service, groups = SuppressionService(sessions), AsmGroupService(sessions)
    await emit(bus, [hard("ada@acme.io"), hard("a_b@acme.io"), hard("ada@acme.io", "other")])
    await service.add_global("acme", ["zed@acme.io"])
    found = await service.list_entries("acme", "bounces", email="ADA")
    assert [e.email for e in found] == ["ada@acme.io"]
    assert [e.email for e in await service.list_entries("acme", "bounces", email="_")] == [
        "a_b@acme.io"
    ]
    rows = await service.listed("acme", "bounces", "acme.io", 10, 0)
    assert {(r.email, r.status, r.event_type) for r in rows} == {
        ("ada@acme.io", "5.1.1", "bounce"),
        ("a_b@acme.io", "5.1.1", "bounce"),
    }
    by_hand = await service.listed("acme", "unsubscribes", None, 10, 0)
    assert [(r.email, r.event_type, r.message_id) for r in by_hand] == [("zed@acme.io", None, None)]
    group = await groups.create("acme", "News", "", False)
    await groups.add_suppressions("acme", group.id, ["b@x.io", "c@x.io", "c@y.io"])
    assert len(await groups.listed("acme", group.id, "@x.", 1, 1)) == 1  # the second of two
    assert {r.email for r in await groups.listed("acme", group.id, "@x.", 10, 0)} == {
        "b@x.io",
        "c@x.io",
    }
    with pytest.raises(NotFound):
        await groups.listed("other", group.id, None, 10, 0)
