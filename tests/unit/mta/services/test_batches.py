"""The batch service on a real SQLite database: batch ids per account, pause / cancel / lift
as SendGrid's scheduled sends, the scheduler told of each change, and changes made by
another node picked up by a sync."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import update

from mta.core.errors import NotFound, ValidationError
from mta.db.models import MailBatch
from mta.scheduler.batches import BatchKey, BatchStatus
from mta.services.batches import BatchService, ScheduledSend, status_changes
from tests.support.clock import FakeClock, settle, until


class Listener:
    def __init__(self) -> None:
        self.told: list[tuple[BatchKey, BatchStatus | None]] = []

    def batch_changed(self, key: BatchKey, status: BatchStatus | None) -> None:
        self.told.append((key, status))


@pytest.fixture
def listener() -> Listener:
    return Listener()


@pytest.fixture
def service(sessions: Any, listener: Listener) -> BatchService:
    return BatchService(sessions, listener)


def test_status_changes_between_snapshots() -> None:
    a, b, c = ("acme", "b1"), ("acme", "b2"), ("other", "b1")
    old: dict[BatchKey, BatchStatus] = {a: "pause", b: "cancel"}
    new: dict[BatchKey, BatchStatus] = {a: "cancel", c: "pause"}
    assert status_changes(old, new) == [(a, "cancel"), (b, None), (c, "pause")]
    assert status_changes(new, new) == []


async def test_batch_ids_are_valid_only_for_their_account(service: BatchService) -> None:
    batch_id = await service.create("acme")
    assert batch_id != await service.create("acme")
    assert await service.validate("acme", batch_id) == batch_id
    await service.require("acme", batch_id)
    for account, candidate in (("other", batch_id), ("acme", "nope")):
        with pytest.raises(ValidationError) as raised:
            await service.validate(account, candidate)
        assert (raised.value.message, raised.value.field) == ("invalid batch id", None)
        with pytest.raises(ValidationError) as refused:
            await service.require(account, candidate)
        assert refused.value.field == "batch_id"


async def test_pause_cancel_and_lift(service: BatchService, listener: Listener) -> None:
    b1, b2 = await service.create("acme"), await service.create("acme")
    mine = await service.create("other")
    assert await service.pause_or_cancel("acme", b1, "pause") == ScheduledSend(b1, "pause")
    await service.pause_or_cancel("acme", b2, "cancel")
    await service.pause_or_cancel("other", mine, "cancel")
    with pytest.raises(ValidationError):  # already paused: PATCH changes it
        await service.pause_or_cancel("acme", b1, "cancel")
    assert await service.list_scheduled("acme") == sorted(
        [ScheduledSend(b1, "pause"), ScheduledSend(b2, "cancel")], key=lambda s: s.batch_id
    )
    assert await service.get("acme", b1) == [ScheduledSend(b1, "pause")]
    await service.update("acme", b1, "cancel")
    await service.delete("acme", b2)
    assert await service.list_scheduled("acme") == [ScheduledSend(b1, "cancel")]
    with pytest.raises(NotFound):  # neither paused nor cancelled now
        await service.get("acme", b2)
    with pytest.raises(NotFound):
        await service.update("acme", b2, "pause")
    with pytest.raises(NotFound):
        await service.delete("acme", b2)
    assert listener.told == [
        (("acme", b1), "pause"),
        (("acme", b2), "cancel"),
        (("other", mine), "cancel"),
        (("acme", b1), "cancel"),
        (("acme", b2), None),
    ]


async def test_another_accounts_batch_cannot_be_touched(
    service: BatchService, listener: Listener
) -> None:
    theirs = await service.create("other")
    await service.pause_or_cancel("other", theirs, "pause")
    with pytest.raises(ValidationError):
        await service.pause_or_cancel("acme", theirs, "cancel")
    for attempt in (
        service.get("acme", theirs),
        service.update("acme", theirs, "cancel"),
        service.delete("acme", theirs),
    ):
        with pytest.raises(ValidationError) as raised:
            await attempt
        assert raised.value.message == "invalid batch id"
    assert await service.list_scheduled("acme") == []
    assert await service.get("other", theirs) == [ScheduledSend(theirs, "pause")]
    assert listener.told == [(("other", theirs), "pause")]


async def test_start_and_sync_hand_over_what_the_database_holds(
    sessions: Any, service: BatchService, listener: Listener
) -> None:
    b1, b2 = await service.create("acme"), await service.create("acme")
    await service.pause_or_cancel("acme", b1, "pause")
    restarted = Listener()
    fresh = BatchService(sessions, restarted)
    await fresh.start()
    assert restarted.told == [(("acme", b1), "pause")]
    async with sessions() as session, session.begin():  # another node's changes
        await session.execute(update(MailBatch).where(MailBatch.id == b1).values(status=None))
        await session.execute(update(MailBatch).where(MailBatch.id == b2).values(status="cancel"))
    await fresh._sync()
    assert sorted(restarted.told[1:]) == sorted([(("acme", b1), None), (("acme", b2), "cancel")])
    await fresh._sync()
    assert len(restarted.told) == 3  # nothing changed since


async def test_follow_syncs_once_every_interval_on_the_clock(sessions: Any) -> None:
    clock, told = FakeClock(), Listener()
    service = BatchService(sessions, told, clock)
    b1 = await service.create("acme")
    follower = asyncio.create_task(service.follow(30.0))
    try:
        await settle()
        async with sessions() as session, session.begin():  # another node pauses b1
            await session.execute(
                update(MailBatch).where(MailBatch.id == b1).values(status="pause")
            )
        await clock.advance(29.0)
        assert told.told == []  # not yet: the interval has not passed
        await clock.advance(1.0)
        await until(lambda: bool(told.told))
        assert told.told == [(("acme", b1), "pause")]
    finally:
        follower.cancel()
        await asyncio.gather(follower, return_exceptions=True)
