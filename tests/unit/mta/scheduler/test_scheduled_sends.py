"""Scheduled sends in the scheduler, through its seams (a fake connector, an in-memory spool
that copies what it stores): a send_at ahead waits, also across a restart; a paused batch
parks its due messages until lifted; a cancelled one drops them when due, per account."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any

import msgspec

from config.settings import DeliverySettings
from mta.core.events import Dropped, Event, event_type
from mta.delivery.deliverer import Deliverer
from mta.scheduler.scheduler import Scheduler
from queue_store.entries import Envelope, QueueEntry, RecipientState
from tests.unit.mta.scheduler.test_destinations import FakeConnector, NoDns


class Spool:
    """Keeps encoded copies, as the real spool does: what is loaded is what was stored."""

    def __init__(self) -> None:
        self.entries: dict[str, bytes] = {}
        self.removed: list[str] = []

    async def put(self, entry: QueueEntry, content: bytes) -> None:
        self.entries[entry.envelope.queue_id] = msgspec.msgpack.encode(entry)

    async def update(self, entry: QueueEntry) -> None:
        self.entries[entry.envelope.queue_id] = msgspec.msgpack.encode(entry)

    async def remove(self, queue_id: str) -> None:
        self.entries.pop(queue_id, None)
        self.removed.append(queue_id)

    async def load(self, queue_id: str) -> QueueEntry:
        return msgspec.msgpack.decode(self.entries[queue_id], type=QueueEntry)

    async def load_content(self, queue_id: str) -> bytes:
        return b"Subject: x\r\n\r\nx\r\n"

    def recover(self) -> Iterator[QueueEntry]:
        return iter(
            [msgspec.msgpack.decode(data, type=QueueEntry) for data in self.entries.values()]
        )


class Bus:
    def __init__(self) -> None:
        self.events: list[tuple[float, Event]] = []

    def emit(self, event: Event) -> None:
        self.events.append((time.time(), event))

    async def written(self) -> None:
        return None

    def kinds(self) -> list[str]:
        return [event_type(e) for _, e in self.events]


def message(
    n: int, *, send_at: float = 0.0, batch: str | None = None, account: str = "a"
) -> QueueEntry:
    envelope = Envelope(
        message_id=f"m{n}",
        queue_id=f"q{n}",
        account_id=account,
        sender="s@x.test",
        sender_domain="x.test",
        return_path_host="bounces.x.test",
        send_at=int(send_at) if send_at else None,
        batch_id=batch,
    )
    states = [RecipientState(email=f"r{n}-{i}@fast.test", index=i) for i in range(2)]
    for state in states:
        state.next_attempt_at = send_at
    return QueueEntry(envelope=envelope, recipients=states)


def scheduler(spool: Spool, connector: FakeConnector, **settings: Any) -> tuple[Scheduler, Bus]:
    config = DeliverySettings(
        routes={"fast.test": "127.0.0.8:25"}, connection_idle_seconds=0.05, **settings
    )
    bus = Bus()
    return Scheduler(spool, Deliverer(config, NoDns(), connector), bus, config), bus  # type: ignore[arg-type]


async def accept(scheduler: Scheduler, spool: Spool, entry: QueueEntry) -> None:
    """As intake does: spool, then hand the entry and its content to the scheduler."""
    await spool.put(entry, b"x")
    scheduler.enqueue(entry, b"Subject: x\r\n\r\nx\r\n")


async def until(done: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        await asyncio.sleep(0.01)


async def test_a_send_at_ahead_is_delivered_at_its_time_not_before() -> None:
    spool, connector = Spool(), FakeConnector({})
    sched, bus = scheduler(spool, connector)
    sched.start()
    due = time.time() + 1.0
    await accept(sched, spool, message(1, send_at=due))
    await accept(sched, spool, message(2))  # not scheduled: goes at once
    await until(lambda: len(bus.events) == 4)
    await sched.stop()
    assert bus.kinds() == ["delivered"] * 4
    times = {e.email: at for at, e in bus.events}
    assert times["r2-0@fast.test"] < due - 0.5
    assert min(times["r1-0@fast.test"], times["r1-1@fast.test"]) >= due
    assert spool.removed == ["q2", "q1"]


async def test_the_time_survives_a_restart() -> None:
    spool, connector = Spool(), FakeConnector({})
    first, _ = scheduler(spool, connector)
    first.start()
    due = time.time() + 1.0
    await accept(first, spool, message(1, send_at=due))
    await first.stop()  # the process ends before the time; the spool keeps the message
    second, bus = scheduler(spool, connector)
    assert second.recover() == 1
    second.start()
    await asyncio.sleep(0.3)
    assert bus.events == [] and connector.sent == []
    await until(lambda: len(bus.events) == 2)
    await second.stop()
    assert bus.kinds() == ["delivered", "delivered"]
    assert min(at for at, _ in bus.events) >= due


async def test_a_paused_batch_parks_due_messages_until_the_pause_is_lifted() -> None:
    spool, connector = Spool(), FakeConnector({})
    sched, bus = scheduler(spool, connector)
    sched.start()
    sched.batch_changed(("a", "b1"), "pause")
    await accept(sched, spool, message(1, batch="b1"))
    await accept(sched, spool, message(2, batch="b2"))  # another batch: not held
    await accept(sched, spool, message(3, batch="b1", account="other"))  # another account
    await until(lambda: len(bus.events) == 4)
    await asyncio.sleep(0.2)
    assert sorted(e.email for _, e in bus.events) == [
        "r2-0@fast.test",
        "r2-1@fast.test",
        "r3-0@fast.test",
        "r3-1@fast.test",
    ]
    assert sched.batches.parked_by("q1") == "b1" and "q1" in spool.entries
    sched.batch_changed(("a", "b1"), None)
    await until(lambda: len(bus.events) == 6)
    await sched.stop()
    assert bus.kinds() == ["delivered"] * 6 and "q1" in spool.removed
    assert sched.batches.parked_by("q1") is None


async def test_a_cancelled_batch_drops_its_messages_when_due_and_sends_nothing() -> None:
    spool, connector = Spool(), FakeConnector({})
    sched, bus = scheduler(spool, connector)
    sched.start()
    sched.batch_changed(("a", "b1"), "cancel")
    due = time.time() + 1.0
    await accept(sched, spool, message(1, batch="b1"))  # due now: dropped now
    await accept(sched, spool, message(2, batch="b1", send_at=due))  # dropped at its time
    await until(lambda: len(bus.events) == 2)
    assert "q2" in spool.entries and all(e.message_id == "m1" for _, e in bus.events)
    await until(lambda: len(bus.events) == 4)
    await until(lambda: "q2" in spool.removed)
    await sched.stop()
    assert bus.kinds() == ["dropped"] * 4 and connector.sent == []
    assert all(isinstance(e, Dropped) and "batch b1" in e.reason for _, e in bus.events)
    assert min(at for at, e in bus.events if e.message_id == "m2") >= due
    assert spool.entries == {}


async def test_cancelling_a_paused_batch_drops_what_it_parked() -> None:
    spool, connector = Spool(), FakeConnector({})
    sched, bus = scheduler(spool, connector)
    sched.start()
    sched.batch_changed(("a", "b1"), "pause")
    await accept(sched, spool, message(1, batch="b1"))
    await asyncio.sleep(0.2)
    assert bus.events == []
    sched.batch_changed(("a", "b1"), "cancel")
    await until(lambda: "q1" in spool.removed)
    await sched.stop()
    assert bus.kinds() == ["dropped", "dropped"] and connector.sent == []


async def test_a_cancel_lifted_before_the_time_lets_the_message_go() -> None:
    spool, connector = Spool(), FakeConnector({})
    sched, bus = scheduler(spool, connector)
    sched.start()
    sched.batch_changed(("a", "b1"), "cancel")
    await accept(sched, spool, message(1, batch="b1", send_at=time.time() + 0.5))
    sched.batch_changed(("a", "b1"), None)
    await until(lambda: len(bus.events) == 2)
    await sched.stop()
    assert bus.kinds() == ["delivered", "delivered"]


async def test_a_pause_past_the_queue_lifetime_drops_the_message_as_expired() -> None:
    spool, connector = Spool(), FakeConnector({})
    sched, bus = scheduler(spool, connector, max_queue_lifetime_seconds=1)
    sched.start()
    sched.batch_changed(("a", "b1"), "pause")
    await accept(sched, spool, message(1, batch="b1"))
    await asyncio.sleep(0.3)
    assert bus.events == []  # parked
    await until(lambda: "q1" in spool.removed)
    await sched.stop()
    assert bus.kinds() == ["dropped", "dropped"] and connector.sent == []
    assert all("Expired" in e.reason for _, e in bus.events if isinstance(e, Dropped))
