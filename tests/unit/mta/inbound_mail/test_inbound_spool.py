"""The spooled inbound path over a real SQLite database, event bus and segment log: the MX's
message is on disk when receive() returns and processed later by the processor; what a
crash leaves in the spool is processed after a restart, once; a batch holding the same DSN
twice bounces once; hostile MIME is still refused before anything is spooled."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mta.core.errors import StorageUnavailable, ValidationError
from mta.inbound_mail.inbound_spool import InboundSpool, Received
from mta.inbound_mail.processor import InboundProcessor
from mta.inbound_mail.service import InboundService
from mta.services.domains import DomainService
from tests.unit.mta.inbound_mail import test_service
from tests.unit.mta.inbound_mail.test_service import (
    FBL,
    KEYS,
    STATIC,
    World,
    dsn,
    events,
    inbound_rows,
    verp,
)

world = test_service.world  # the fixture: a database with two accounts and a running bus

FAILED_BOB = ("bob@example.com", "failed", "5.1.1")


def spooled_service(world: World, spool: InboundSpool) -> InboundService:
    domains = DomainService(world.sessions, world.dns, "mx.test")
    return InboundService(
        world.sessions,
        domains,
        world.bus,
        [STATIC],
        world.dns,
        return_path_keys=KEYS,
        fbl_addresses=[FBL],
        spool=spool,
    )


@pytest.fixture
async def spool(tmp_path: Path) -> AsyncIterator[InboundSpool]:
    spool = InboundSpool(tmp_path / "inbound")
    await spool.start()
    yield spool
    await spool.stop()


async def test_receive_returns_once_spooled_and_the_processor_records_it(
    world: World, spool: InboundSpool
) -> None:
    service = spooled_service(world, spool)
    await service.receive("", [verp(1)], dsn(FAILED_BOB), sender_ip="192.0.2.7")
    assert len(spool) == 1
    assert await events(world, "bounce") == [] and await inbound_rows(world) == []

    assert await InboundProcessor(spool, service.process).drain() == 1
    [bounce] = await events(world, "bounce")
    assert bounce.email == "bob@example.com"
    [row] = await inbound_rows(world)
    assert (row.kind, row.events, row.message_id) == ("dsn", ["bounce"], bounce.message_id)
    assert len(spool) == 0


async def test_what_a_crash_leaves_in_the_spool_is_processed_after_the_restart_once(
    world: World, spool: InboundSpool, tmp_path: Path
) -> None:
    service = spooled_service(world, spool)
    await service.receive("", [verp(1)], dsn(FAILED_BOB), sender_ip="192.0.2.7")
    # the directory as a SIGKILL would leave it: only what put() committed is there
    shutil.copytree(tmp_path / "inbound", tmp_path / "after-crash")
    restarted = InboundSpool(tmp_path / "after-crash")
    await restarted.start()
    try:
        assert len(restarted) == 1
        [(received, data)] = await restarted.take(10)
        assert (received.rcpt_tos, received.sender_ip) == ([verp(1)], "192.0.2.7")
        # processed, then processed again as if the crash came before the spool forgot it
        await service.process([(received, data)])
        await InboundProcessor(restarted, spooled_service(world, restarted).process).drain()
    finally:
        await restarted.stop()
    assert len(await events(world, "bounce")) == 1
    [row] = await inbound_rows(world)
    assert row.id == received.id


async def test_the_same_dsn_twice_in_one_batch_bounces_once(world: World) -> None:
    data = dsn(FAILED_BOB)
    batch = [(Received(id=f"r{n}", mail_from="", rcpt_tos=[verp(1)]), data) for n in (1, 2)]
    await world.service.process(batch)
    assert len(await events(world, "bounce")) == 1
    rows = await inbound_rows(world)
    assert [row.events for row in rows] == [["bounce"], []]
    assert rows[1].note.startswith("no new event")


async def test_mime_too_complex_is_refused_before_it_is_spooled(
    world: World, spool: InboundSpool
) -> None:
    nested = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n" + b"multipart/" * 200
    with pytest.raises(ValidationError):
        await spooled_service(world, spool).receive("", [verp(0)], nested)
    assert len(spool) == 0


async def test_a_full_spool_answers_try_later_and_takes_mail_again_once_drained(
    world: World, tmp_path: Path
) -> None:
    spool = InboundSpool(tmp_path / "small", max_waiting=2)
    await spool.start()
    try:
        service = spooled_service(world, spool)
        for index in (1, 2):
            await service.receive("", [verp(index)], dsn(FAILED_BOB))
        with pytest.raises(StorageUnavailable, match="try again later"):
            await service.receive("", [verp(3)], dsn(FAILED_BOB))
        assert len(spool) == 2  # the third was never acknowledged, so nothing is lost
        assert await InboundProcessor(spool, service.process).drain() == 2
        await service.receive("", [verp(3)], dsn(FAILED_BOB))
        assert len(spool) == 1
    finally:
        await spool.stop()
