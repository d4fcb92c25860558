"""Scheduled sends in the scheduler, through its seams (a fake connector, an in-memory spool
that copies what it stores, a clock that moves only when the test advances it): a send_at
ahead waits, also across a restart; a paused batch parks its due messages until lifted; a
cancelled one drops them when due, per account."""

from __future__ import annotations

from typing import Any

from config.settings import DeliverySettings
from mta.core.events import Dropped, Event, event_type
from mta.delivery.deliverer import Deliverer
from mta.scheduler.scheduler import Scheduler
from queue_store.entries import Envelope, QueueEntry, RecipientState
from tests.support.clock import FakeClock, until
from tests.unit.mta.scheduler.fakes import FakeConnector, NoDns, Spool


class Bus:
    """Records each event with the time on the scheduler's clock when it came."""

    def __init__(self, clock: FakeClock) -> None:
        self.events: list[tuple[float, Event]] = []
        self._clock = clock

    def emit(self, event: Event) -> None:
        self.events.append((self._clock.time(), event))

    async def written(self) -> None:
        return None

    def kinds(self) -> list[str]:
        return [event_type(e) for _, e in self.events]


def message(
    clock: FakeClock,
    n: int,
    *,
    send_at: float = 0.0,
    batch: str | None = None,
    account: str = "a",
) -> QueueEntry:
    envelope = Envelope(
        created_at=clock.time(),
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


def scheduler(
    spool: Spool, connector: FakeConnector, clock: FakeClock, **settings: Any
) -> tuple[Scheduler, Bus]:
    config = DeliverySettings(
        routes={"fast.test": "127.0.0.8:25"}, connection_idle_seconds=0.05, **settings
    )
    bus = Bus(clock)
    deliverer = Deliverer(config, NoDns(), connector)
    return Scheduler(spool, deliverer, bus, config, clock=clock), bus  # type: ignore[arg-type]


async def accept(scheduler: Scheduler, spool: Spool, entry: QueueEntry) -> None:
    """As intake does: spool, then hand the entry and its content to the scheduler."""
    await spool.put(entry, b"x")
    scheduler.enqueue(entry, b"Subject: x\r\n\r\nx\r\n")


async def test_a_send_at_ahead_is_delivered_at_its_time_not_before() -> None:
    spool, connector, clock = Spool(), FakeConnector({}), FakeClock()
    sched, bus = scheduler(spool, connector, clock)
    sched.start()
    due = clock.time() + 1.0
    await accept(sched, spool, message(clock, 1, send_at=due))
    await accept(sched, spool, message(clock, 2))  # not scheduled: goes at once
    await until(lambda: len(bus.events) == 2)
    await clock.advance_to(due - 0.5)
    assert len(bus.events) == 2 and sched.is_active("q1") is False
    await clock.advance_to(due)
    await until(lambda: len(bus.events) == 4)
    await sched.stop()
    assert bus.kinds() == ["delivered"] * 4
    times = {e.email: at for at, e in bus.events}
    assert times["r2-0@fast.test"] < due - 0.5
    assert min(times["r1-0@fast.test"], times["r1-1@fast.test"]) >= due
    assert spool.removed == ["q2", "q1"]


async def test_the_time_survives_a_restart() -> None:
    spool, connector, clock = Spool(), FakeConnector({}), FakeClock()
    first, _ = scheduler(spool, connector, clock)
    first.start()
    due = clock.time() + 1.0
    await accept(first, spool, message(clock, 1, send_at=due))
    await first.stop()  # the process ends before the time; the spool keeps the message
    second, bus = scheduler(spool, connector, clock)
    assert second.recover() == 1
    second.start()
    await clock.advance(0.3)
    assert bus.events == [] and connector.sent == []
    await clock.advance_to(due)
    await until(lambda: len(bus.events) == 2)
    await second.stop()
    assert bus.kinds() == ["delivered", "delivered"]
    assert min(at for at, _ in bus.events) >= due


async def test_a_paused_batch_parks_due_messages_until_the_pause_is_lifted() -> None:
    spool, connector, clock = Spool(), FakeConnector({}), FakeClock()
    sched, bus = scheduler(spool, connector, clock)
    sched.start()
    sched.batch_changed(("a", "b1"), "pause")
    await accept(sched, spool, message(clock, 1, batch="b1"))
    await accept(sched, spool, message(clock, 2, batch="b2"))  # another batch: not held
    await accept(sched, spool, message(clock, 3, batch="b1", account="other"))  # another account
    await until(lambda: len(bus.events) == 4)
    await clock.advance(0.2)
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
    spool, connector, clock = Spool(), FakeConnector({}), FakeClock()
    sched, bus = scheduler(spool, connector, clock)
    sched.start()
    sched.batch_changed(("a", "b1"), "cancel")
    due = clock.time() + 1.0
    await accept(sched, spool, message(clock, 1, batch="b1"))  # due now: dropped now
    await accept(sched, spool, message(clock, 2, batch="b1", send_at=due))  # dropped at its time
    await until(lambda: len(bus.events) == 2)
    assert "q2" in spool.entries and all(e.message_id == "m1" for _, e in bus.events)
    await clock.advance_to(due - 0.5)
    assert len(bus.events) == 2
    await clock.advance_to(due)
    await until(lambda: len(bus.events) == 4)
    await until(lambda: "q2" in spool.removed)
    await sched.stop()
    assert bus.kinds() == ["dropped"] * 4 and connector.sent == []
    assert all(isinstance(e, Dropped) and "batch b1" in e.reason for _, e in bus.events)
    assert min(at for at, e in bus.events if e.message_id == "m2") >= due
    assert all(e.timestamp == int(at) for at, e in bus.events)  # stamped by the clock
    assert spool.entries == {}


async def test_cancelling_a_paused_batch_drops_what_it_parked() -> None:
    spool, connector, clock = Spool(), FakeConnector({}), FakeClock()
    sched, bus = scheduler(spool, connector, clock)
    sched.start()
    sched.batch_changed(("a", "b1"), "pause")
    await accept(sched, spool, message(clock, 1, batch="b1"))
    await clock.advance(0.2)
    assert bus.events == []
    sched.batch_changed(("a", "b1"), "cancel")
    await until(lambda: "q1" in spool.removed)
    await sched.stop()
    assert bus.kinds() == ["dropped", "dropped"] and connector.sent == []


async def test_a_cancel_lifted_before_the_time_lets_the_message_go() -> None:
    spool, connector, clock = Spool(), FakeConnector({}), FakeClock()
    sched, bus = scheduler(spool, connector, clock)
    sched.start()
    sched.batch_changed(("a", "b1"), "cancel")
    await accept(sched, spool, message(clock, 1, batch="b1", send_at=clock.time() + 0.5))
    sched.batch_changed(("a", "b1"), None)
    await clock.advance(0.5)
    await until(lambda: len(bus.events) == 2)
    await sched.stop()
    assert bus.kinds() == ["delivered", "delivered"]


async def test_a_pause_past_the_queue_lifetime_drops_the_message_as_expired() -> None:
    spool, connector, clock = Spool(), FakeConnector({}), FakeClock()
    sched, bus = scheduler(spool, connector, clock, max_queue_lifetime_seconds=1)
    sched.start()
    sched.batch_changed(("a", "b1"), "pause")
    await accept(sched, spool, message(clock, 1, batch="b1"))
    await clock.advance(0.3)
    assert bus.events == []  # parked
    await clock.advance(0.7)  # the queue lifetime ends
    await until(lambda: "q1" in spool.removed)
    await sched.stop()
    assert bus.kinds() == ["dropped", "dropped"] and connector.sent == []
    assert all("Expired" in e.reason for _, e in bus.events if isinstance(e, Dropped))
