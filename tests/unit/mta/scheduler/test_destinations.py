"""The scheduler's per-destination behaviour, through its Protocol seams (a fake connector,
an in-memory store and a clock that moves only when told): connection reuse, messages per
connection, no head-of-line blocking, destination back-off, permanent routing failures and
dropped connections."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

from config.settings import DeliverySettings
from mta.core.events import event_type
from mta.delivery.deliverer import Deliverer
from mta.scheduler.scheduler import Scheduler
from queue_store.entries import Envelope, QueueEntry, RecipientState
from tests.support.clock import FakeClock, until
from tests.unit.mta.scheduler.fakes import FakeConnector, NoDns, RecordingBus, Spool


class MemoryStore:
    def __init__(self) -> None:
        self.content: dict[str, bytes] = {}
        self.removed: list[str] = []
        self.updates = 0

    async def put(self, entry: QueueEntry, content: bytes) -> None:
        self.content[entry.envelope.queue_id] = content

    async def load_content(self, queue_id: str) -> bytes:
        return self.content[queue_id]

    async def update(self, entry: QueueEntry) -> None:
        self.updates += 1

    async def remove(self, queue_id: str) -> None:
        self.removed.append(queue_id)

    def recover(self) -> Iterator[QueueEntry]:
        return iter(())

    async def load(self, queue_id: str) -> QueueEntry:
        raise KeyError(queue_id)


def entry(n: int, *emails: str) -> QueueEntry:
    envelope = Envelope(
        message_id=f"m{n}",
        queue_id=f"q{n}",
        account_id="a",
        sender="s@x.test",
        sender_domain="x.test",
        return_path_host="bounces.x.test",
    )
    return QueueEntry(
        envelope=envelope,
        recipients=[RecipientState(email=e, index=i) for i, e in enumerate(emails)],
    )


async def scheduler_for(
    connector: FakeConnector, clock: FakeClock | None = None, **settings: Any
) -> tuple[Scheduler, RecordingBus, MemoryStore]:
    defaults: dict[str, Any] = {
        "routes": {
            "fast.test": "127.0.0.8:25",
            "dead.test": "127.0.0.9:25",
            "slow.test": "127.0.0.7:25",
        },
        "connection_idle_seconds": 0.05,
    }
    config = DeliverySettings(**{**defaults, **settings})
    store, bus = MemoryStore(), RecordingBus()
    scheduler = Scheduler(
        store,
        Deliverer(config, NoDns(), connector),
        bus,  # type: ignore[arg-type]
        config,
        clock=clock or FakeClock(),
    )
    scheduler.start()
    return scheduler, bus, store


async def settle(store: MemoryStore, count: int, timeout: float = 5.0) -> None:
    await until(lambda: len(store.removed) >= count, timeout)


async def test_one_connection_carries_many_messages() -> None:
    connector = FakeConnector({})
    scheduler, bus, store = await scheduler_for(connector, destination_concurrency=1)
    for n in range(10):
        await store.put(entry(n, f"r{n}@fast.test"), b"x")
        scheduler.enqueue(entry(n, f"r{n}@fast.test"))
    await settle(store, 10)
    await scheduler.stop()
    assert len(store.removed) == 10
    assert connector.opened == ["127.0.0.8"]
    assert all(bus.kinds(f"r{n}@fast.test") == ["delivered"] for n in range(10))


async def test_messages_per_connection_bounds_reuse() -> None:
    connector = FakeConnector({})
    scheduler, _, store = await scheduler_for(
        connector, destination_concurrency=1, messages_per_connection=3
    )
    for n in range(10):
        await store.put(entry(n, f"r{n}@fast.test"), b"x")
        scheduler.enqueue(entry(n, f"r{n}@fast.test"))
    await settle(store, 10)
    await scheduler.stop()
    assert len(connector.opened) == 4 and connector.closed == 4


async def test_stop_closes_an_idle_connection_at_once() -> None:
    """An open connection waiting for its next job must not hold the shutdown for
    connection_idle_seconds (it did: every test server took 2 s more to stop)."""
    connector = FakeConnector({})
    scheduler, _, store = await scheduler_for(connector, connection_idle_seconds=30.0)
    await store.put(entry(1, "r1@fast.test"), b"x")
    scheduler.enqueue(entry(1, "r1@fast.test"))
    await settle(store, 1)
    assert connector.closed == 0  # delivered, and idle on its connection
    started = time.monotonic()
    await scheduler.stop(grace=30.0)
    assert time.monotonic() - started < 1.0
    assert connector.closed == 1


async def test_an_idle_connection_closes_after_connection_idle_seconds() -> None:
    """The idle wait is on the scheduler's clock: the connection stays open (and is reused)
    until connection_idle_seconds have passed without work, then closes."""
    connector, clock = FakeConnector({}), FakeClock()
    scheduler, _, store = await scheduler_for(connector, clock, connection_idle_seconds=30.0)
    await store.put(entry(1, "r1@fast.test"), b"x")
    scheduler.enqueue(entry(1, "r1@fast.test"))
    await settle(store, 1)
    await clock.advance(29.0)
    assert connector.closed == 0
    await store.put(entry(2, "r2@fast.test"), b"x")
    scheduler.enqueue(entry(2, "r2@fast.test"))  # on the idle connection: its wait starts anew
    await settle(store, 2)
    await clock.advance(29.0)
    assert connector.closed == 0 and connector.opened == ["127.0.0.8"]
    await clock.advance(1.0)
    await until(lambda: connector.closed == 1)
    assert connector.closed == 1
    await scheduler.stop()
    assert connector.opened == ["127.0.0.8"]


async def test_a_hanging_destination_does_not_delay_others() -> None:
    connector = FakeConnector({"127.0.0.7": "hang"})
    scheduler, _, store = await scheduler_for(connector, destination_concurrency=2)
    for n in range(5):
        await store.put(entry(n, f"r{n}@slow.test"), b"x")
        scheduler.enqueue(entry(n, f"r{n}@slow.test"))
    for n in range(5, 25):
        await store.put(entry(n, f"r{n}@fast.test"), b"x")
        scheduler.enqueue(entry(n, f"r{n}@fast.test"))
    started = time.monotonic()
    await settle(store, 20)
    elapsed = time.monotonic() - started
    await scheduler.stop()
    assert sorted(store.removed) == sorted(f"q{n}" for n in range(5, 25))
    assert elapsed < 2.0
    assert connector.opened.count("127.0.0.7") == 2  # its own limit, no more


async def test_repeated_connection_failures_back_off_the_destination() -> None:
    connector = FakeConnector({"127.0.0.9": "refuse"})
    scheduler, bus, store = await scheduler_for(
        connector, destination_concurrency=1, destination_failure_limit=3
    )
    for n in range(8):
        await store.put(entry(n, f"r{n}@dead.test"), b"x")
        scheduler.enqueue(entry(n, f"r{n}@dead.test"))
    await until(lambda: len(bus.events) >= 8)
    await scheduler.stop()
    assert connector.opened == ["127.0.0.9"] * 3  # then backed off: no more attempts
    assert [event_type(e) for e in bus.events] == ["deferred"] * 8
    assert store.removed == []


async def test_a_dropped_connection_defers_and_the_rest_go_on_a_new_one() -> None:
    connector = FakeConnector({})
    connector.drop_after = 2  # the third message on the first connection is cut off
    scheduler, bus, store = await scheduler_for(connector, destination_concurrency=1)
    for n in range(5):
        await store.put(entry(n, f"r{n}@fast.test"), b"x")
        scheduler.enqueue(entry(n, f"r{n}@fast.test"))
    await settle(store, 4)
    await scheduler.stop()
    assert bus.kinds("r2@fast.test") == ["deferred"]
    assert {f"q{n}" for n in (0, 1, 3, 4)} == set(store.removed)
    assert len(connector.opened) == 2


async def test_recipients_on_two_destinations_finish_independently() -> None:
    connector = FakeConnector({"127.0.0.9": "refuse"})
    scheduler, bus, store = await scheduler_for(connector)
    both = entry(1, "a@fast.test", "b@dead.test")
    await store.put(both, b"x")
    scheduler.enqueue(both)
    await until(lambda: len(bus.events) >= 2)
    await scheduler.stop()
    assert bus.kinds("a@fast.test") == ["delivered"]
    assert bus.kinds("b@dead.test") == ["deferred"]
    assert store.removed == [] and store.updates >= 1
    assert [s.status for s in both.recipients] == ["delivered", "pending"]


async def test_a_deferral_is_retried_when_its_time_comes_on_the_clock() -> None:
    """The retry waits its step of the schedule (60 s here, ±10 %) on the scheduler's clock,
    then goes on a new connection."""
    connector, clock = FakeConnector({"127.0.0.9": "refuse"}), FakeClock()
    spool, bus = Spool(), RecordingBus()
    config = DeliverySettings(routes={"dead.test": "127.0.0.9:25"}, retry_schedule_seconds=[60])
    deliverer = Deliverer(config, NoDns(), connector)
    scheduler = Scheduler(spool, deliverer, bus, config, clock=clock)  # type: ignore[arg-type]
    scheduler.start()
    await spool.put(entry(1, "r1@dead.test"), b"x")
    scheduler.enqueue(entry(1, "r1@dead.test"))
    await until(lambda: bus.kinds("r1@dead.test") == ["deferred"])
    await clock.advance(53.9)
    assert connector.opened == ["127.0.0.9"]  # not yet: the retry is 54 s to 66 s away
    connector.behaviour["127.0.0.9"] = "ok"
    await clock.advance(12.2)
    await until(lambda: "q1" in spool.removed)
    await scheduler.stop()
    assert connector.opened == ["127.0.0.9"] * 2
    assert bus.kinds("r1@dead.test") == ["deferred", "delivered"]


@pytest.mark.parametrize("domain", ["nowhere.test"])
async def test_an_unroutable_domain_bounces(domain: str) -> None:
    class NxResolver(NoDns):
        async def mx(self, name: str) -> Any:
            from mta.core.dns import NxDomain

            raise NxDomain(name)

    config = DeliverySettings()
    store, bus = MemoryStore(), RecordingBus()
    scheduler = Scheduler(
        store,
        Deliverer(config, NxResolver(), FakeConnector({})),  # type: ignore[arg-type]
        bus,
        config,
        clock=FakeClock(),
    )  # type: ignore[arg-type]
    scheduler.start()
    lost = entry(1, f"x@{domain}")
    await store.put(lost, b"x")
    scheduler.enqueue(lost)
    await settle(store, 1)
    await scheduler.stop()
    assert bus.kinds(f"x@{domain}") == ["bounce"]
    assert bus.events[0].status == "5.1.2"  # type: ignore[union-attr]


class GatedBus(RecordingBus):
    """A bus whose database write finishes only when the test opens the gate."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()

    async def written(self) -> None:
        await self.gate.wait()


async def test_the_spool_keeps_a_delivery_until_its_events_are_written() -> None:
    connector = FakeConnector({})
    store, bus = MemoryStore(), GatedBus()
    config = DeliverySettings(routes={"fast.test": "127.0.0.8:25"}, connection_idle_seconds=0.05)
    scheduler = Scheduler(
        store,
        Deliverer(config, NoDns(), connector),
        bus,  # type: ignore[arg-type]
        config,
        clock=FakeClock(),
    )
    scheduler.start()
    await store.put(entry(1, "r1@fast.test"), b"x")
    scheduler.enqueue(entry(1, "r1@fast.test"))
    await until(lambda: bool(bus.events))
    await asyncio.sleep(0.1)
    assert bus.kinds("r1@fast.test") == ["delivered"]
    assert store.removed == []  # a crash now repeats the delivery instead of losing its event
    bus.gate.set()
    await settle(store, 1)
    await scheduler.stop()
    assert store.removed == ["q1"]
