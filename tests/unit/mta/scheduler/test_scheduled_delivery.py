"""A scheduled send end to end below the HTTP edge, on a clock the test moves: the real
scheduler, spool (on disk) and SMTP client deliver to a real SMTP sink on loopback. One
message of three personalizations: a past send_at goes at once, the others at their time
and not before (the deterministic twin of the integration test of the same name). The queue
lists one as `scheduled` until a try fails, then as `deferred`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from config.settings import DeliverySettings
from mta.delivery.client import AiosmtplibConnector
from mta.delivery.deliverer import Deliverer
from mta.scheduler.queue_admin import QueueControl, QueueState
from mta.scheduler.scheduler import Scheduler
from mta.submission.schedule import schedule
from queue_store import LogSpool
from queue_store.entries import Envelope, QueueEntry, RecipientState
from tests.support.clock import FakeClock, until
from tests.support.sink import SmtpSink
from tests.unit.mta.scheduler.fakes import NoDns, RecordingBus

CONTENT = b"From: hello@mail.example.com\r\nSubject: Later\r\n\r\nHello\r\n"
SINK_WAIT = 20.0  # real seconds a delivery over loopback may take on a loaded machine


def personalization(clock: FakeClock, index: int, email: str, send_at: int) -> QueueEntry:
    """One personalization's spool entry, scheduled as intake schedules it."""
    envelope = Envelope(
        message_id="m1",
        queue_id=f"m1-{index}",
        account_id="a",
        sender="hello@mail.example.com",
        sender_domain="mail.example.com",
        return_path_host="bounces.mail.example.com",
        created_at=clock.time(),
    )
    entry = QueueEntry(envelope=envelope, recipients=[RecipientState(email=email, index=index)])
    schedule(entry, send_at, None, clock.time())
    return entry


def waiting(scheduler: Scheduler) -> int:
    """Messages on the due queue (waiting for their time)."""
    return next(row.count for row in scheduler.queue_depth() if row.state == "waiting")


def recipients(sink: SmtpSink) -> list[str]:
    return [rcpt for message in sink.snapshot() for rcpt in message.rcpt_tos]


class Running:
    """A real spool and scheduler on a FakeClock, delivering to the sink over loopback."""

    def __init__(self, tmp_path: Path, sink: SmtpSink) -> None:
        self.clock, self.bus = FakeClock(), RecordingBus()
        settings = DeliverySettings(
            routes={"example.com": f"{sink.controller.hostname}:{sink.controller.port}"}
        )
        connector = AiosmtplibConnector.from_settings("scaisend.test", settings)
        self.spool = LogSpool(tmp_path / "spool")
        self.scheduler = Scheduler(
            self.spool,
            Deliverer(settings, NoDns(), connector),  # type: ignore[arg-type]
            self.bus,  # type: ignore[arg-type]
            settings,
            clock=self.clock,
        )
        self.queue = QueueControl(
            self.spool,
            self.scheduler,
            self.bus,  # type: ignore[arg-type]
            tmp_path / "held.json",
            self.clock,
        )

    async def put(self, entry: QueueEntry) -> None:
        """As intake does: spooled, then handed to the scheduler."""
        await self.spool.put(entry, CONTENT)
        self.scheduler.enqueue(entry, CONTENT)

    async def states(self, state: QueueState | None = None) -> dict[str, QueueState]:
        return {m.queue_id: m.state for m in await self.queue.list(state=state)}


@asynccontextmanager
async def running(tmp_path: Path, sink: SmtpSink) -> AsyncIterator[Running]:
    run = Running(tmp_path, sink)
    await run.spool.start()
    run.scheduler.start()
    try:
        yield run
    finally:
        await run.scheduler.stop()
        await run.spool.stop()


async def test_send_at_a_few_seconds_ahead_is_delivered_at_that_time(
    tmp_path: Path, sink: SmtpSink
) -> None:
    async with running(tmp_path, sink) as run:
        clock, scheduler = run.clock, run.scheduler
        at = int(clock.time()) + 6
        for entry in (
            personalization(clock, 0, "early@example.com", at),
            personalization(clock, 1, "later@example.com", at + 2),  # the personalization's own
            personalization(clock, 2, "now@example.com", at - 3600),  # past: at once
        ):
            await run.put(entry)
        await until(lambda: len(sink.snapshot()) >= 1, SINK_WAIT)
        assert recipients(sink) == ["now@example.com"]
        listed = {m.queue_id: m for m in await run.queue.list()}
        assert (listed["m1-0"].state, listed["m1-0"].send_at, listed["m1-0"].due_at) == (
            "scheduled",
            at,
            at,
        )
        assert (listed["m1-1"].state, listed["m1-1"].send_at, listed["m1-1"].due_at) == (
            "scheduled",
            at + 2,
            at + 2,
        )

        await clock.advance_to(at - 0.5)
        assert len(sink.snapshot()) == 1  # half a second before its time: not sent
        assert waiting(scheduler) == 2 and not scheduler.is_active("m1-0")
        await clock.advance_to(at)
        await until(lambda: len(sink.snapshot()) >= 2, SINK_WAIT)
        assert recipients(sink)[1:] == ["early@example.com"]

        await clock.advance_to(at + 1.5)
        assert len(sink.snapshot()) == 2  # the personalization's own, later time
        assert waiting(scheduler) == 1 and not scheduler.is_active("m1-1")
        await clock.advance_to(at + 2)
        await until(lambda: len(sink.snapshot()) >= 3, SINK_WAIT)
        assert recipients(sink)[2:] == ["later@example.com"]

        await until(lambda: len(run.bus.delivered()) == 3, SINK_WAIT)
        delivered = run.bus.delivered()
        assert delivered["now@example.com"] < at - 0.5
        assert delivered["early@example.com"] >= at
        assert delivered["later@example.com"] >= at + 2


async def test_a_scheduled_send_is_scheduled_until_a_try_fails(
    tmp_path: Path, sink: SmtpSink
) -> None:
    sink.reject["later@example.com"] = "451 4.2.0 try later"
    async with running(tmp_path, sink) as run:
        at = int(run.clock.time()) + 3600
        await run.put(personalization(run.clock, 0, "later@example.com", at))
        assert await run.states() == {"m1-0": "scheduled"}
        assert await run.states("scheduled") == {"m1-0": "scheduled"}
        assert await run.states("deferred") == {}
        assert await run.queue.retry(None, None) == 0  # `retry --all` leaves it to its time
        assert await run.states() == {"m1-0": "scheduled"}

        assert await run.queue.retry(None, "m1-0") == 1  # the operator sends it now: refused
        await until(lambda: "deferred" in run.bus.kinds("later@example.com"), SINK_WAIT)
        await until(lambda: not run.scheduler.is_active("m1-0"), SINK_WAIT)
        assert await run.states() == {"m1-0": "deferred"}  # failed a try: a retry awaits it
        assert await run.states("deferred") == {"m1-0": "deferred"}
        assert await run.states("scheduled") == {}
        assert await run.queue.retry(None, None) == 1
