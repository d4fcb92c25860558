"""An unsubscribe is answered only once its event is in the database, so a crash right after
the one-click POST (or the SMTP 250 of a mailto unsubscribe) cannot lose it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select

from mta.db.models import Event as EventRow
from mta.db.models import Message, MessageRecipient
from mta.events.bus import EventBus
from mta.tracking.content import Tracker
from mta.tracking.service import Subscription, TrackingService, Visitor
from mta.tracking.tokens import Claim, TrackingKey, make_token

WAIT_SECONDS = 1.0  # far longer than the two lookups before the event is emitted


async def _sent(sessions: Any) -> None:
    async with sessions() as session, session.begin():
        session.add(
            Message(
                id="m1",
                account_id="acme",
                api_key_id=None,
                from_email="news@acme.test",
                subject="News",
                template_id=None,
                categories=[],
                custom_args={},
                status="delivered",
                created_at=1.0,
                updated_at=1.0,
            )
        )
        session.add(
            MessageRecipient(message_id="m1", index=0, email="r@x.test", status="delivered")
        )


@pytest.mark.parametrize("group", [None, 7])
async def test_an_unsubscribe_returns_only_once_its_event_is_written(
    sessions: Any, group: int | None
) -> None:
    await _sent(sessions)
    bus = EventBus(sessions)  # not started yet: nothing it is given is written
    tracker = Tracker(TrackingKey("secret"), "https://t.acme.test")
    service = TrackingService(sessions, bus, tracker)
    claim = Claim(kind="unsubscribe", message_id="m1", recipient_index=0, asm_group_id=group)
    call = asyncio.create_task(
        service.unsubscribe(make_token(tracker.key, claim), Visitor(), "one-click")
    )
    done, _ = await asyncio.wait({call}, timeout=WAIT_SECONDS)
    assert not done  # the answer waits for the writer
    bus.start()
    try:
        assert await asyncio.wait_for(call, 10) == Subscription(
            email="r@x.test", asm_group_id=group
        )
        async with sessions() as session:
            kinds = list(
                await session.scalars(
                    select(EventRow.event_type).where(EventRow.message_id == "m1")
                )
            )
    finally:
        await bus.stop()
    assert kinds == ["unsubscribe" if group is None else "group_unsubscribe"]
