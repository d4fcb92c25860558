"""The scheduler: messages in, jobs out. A due message's recipients become jobs on their
destinations' ready queues (connections.py); one not yet due, deferred or scheduled, waits
as a (due time, queue id) pair (due.py); outcomes become events and spool state
(recording.py). Here too: operator holds, batch pauses and cancels, test-key sandboxing, and
the rebuild from the spool at start. Time is read from the one injected Clock."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict

from config.settings import DeliverySettings
from mta.core.addresses import domain_of
from mta.core.clock import Clock, SystemClock
from mta.core.metrics import Metrics, QueueDepth
from mta.delivery.deliverer import Deliverer
from mta.events.bus import EventBus
from mta.scheduler.accounts import AccountGate
from mta.scheduler.batches import BatchGate, BatchKey, BatchStatus, batch_verdict, drop_due
from mta.scheduler.connections import Connections
from mta.scheduler.destinations import Job
from mta.scheduler.due import DueQueue
from mta.scheduler.live import InFlight
from mta.scheduler.recording import OutcomeRecorder
from mta.scheduler.simulator import follow_ups, simulated_outcomes, wants_content
from mta.scheduler.tasks import Tasks
from queue_store import QueueStore
from queue_store.entries import QueueEntry, RecipientState

SOON_SECONDS = 0.5  # a retry due this soon goes now; a scheduled send never goes early


class Scheduler:
    def __init__(
        self,
        store: QueueStore,
        deliverer: Deliverer,
        bus: EventBus,
        settings: DeliverySettings,
        rng: random.Random | None = None,
        metrics: Metrics | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._store = store
        self._bus = bus
        self._settings = settings
        self._clock = clock or SystemClock()
        self._live = InFlight()
        self._due = DueQueue(self._clock)
        self._tasks = Tasks()
        self._recorder = OutcomeRecorder(
            store,
            bus,
            settings,
            self._live,
            self._due,
            self._clock,
            rng or random.Random(),
            metrics,
        )
        self._connections = Connections(
            deliverer, settings, self._recorder, self._live, store, self._clock, self._tasks
        )
        self.held: set[str] = set()  # queue ids an operator put on hold
        self.batches = BatchGate()
        self.accounts = AccountGate()  # the mail of disabled accounts waits

    # -- intake side -------------------------------------------------------------------

    def enqueue(self, entry: QueueEntry, content: bytes | None = None) -> None:
        """Queue the due, not yet in-flight recipients of `entry` on their destinations; a
        message with nothing due (a scheduled send) waits on the due queue.

        Intake passes the content it has just spooled, which saves reading it back for the
        first attempt; it is dropped when the message has no job under way any more."""
        queue_id, now = entry.envelope.queue_id, self._clock.time()
        if queue_id in self.held:
            return
        if self.accounts.blocks(entry.envelope):
            self.accounts.park(entry.envelope)
            return
        entry = self._live.current(entry)  # one object per message while in flight
        due = self._live.due(entry, now if entry.envelope.send_at else now + SOON_SECONDS)
        if not due:
            waiting = min((s.next_attempt_at for s in entry.pending), default=None)
            if waiting is not None and queue_id not in self._live:  # else its jobs plan retries
                self._due.schedule(queue_id, waiting)
            return
        if entry.envelope.batch_id and not self._batch_allows(entry, due, now):
            return
        if entry.envelope.sandbox:
            self._live.take(entry, due, 1, content)
            self._tasks.spawn(self._sandbox(entry, due))
            return
        by_domain: defaultdict[str, list[RecipientState]] = defaultdict(list)
        for state in due:
            by_domain[domain_of(state.email)].append(state)
        self._live.take(entry, due, len(by_domain), content)
        for domain, states in by_domain.items():
            self._connections.submit(Job(entry, states, domain))

    def recover(self) -> int:
        """Schedule every pending message found in the spool; returns how many."""
        count = 0
        for entry in self._store.recover():
            pending = entry.pending
            if pending:
                self._due.schedule(entry.envelope.queue_id, min(s.next_attempt_at for s in pending))
                count += 1
        return count

    def start(self) -> None:
        self._connections.start()
        self._tasks.spawn(self._due.run(self._reload))

    async def stop(self, grace: float = 0.0) -> None:
        """Stop sending; connections finish the message they are sending within `grace`
        seconds; outcomes already received are still recorded (for a while)."""
        await self._connections.stop(grace)
        await self._tasks.cancel()
        await self._recorder.stop()

    def apply_settings(self, settings: DeliverySettings) -> None:
        """A reload: routes, limits and TLS policies for what is sent from now on; a
        connection already open finishes its message on the old ones."""
        self._settings = settings
        self._recorder.settings = settings
        self._connections.apply_settings(settings)

    # -- operator control ----------------------------------------------------------------

    def queue_depth(self) -> list[QueueDepth]:
        """For /metrics, read when scraped: jobs waiting per destination, recipients being
        delivered, messages waiting for a retry or their send time, messages on hold."""
        rows = self._connections.ready()
        rows.append(QueueDepth("in_flight", "", self._live.recipients()))
        rows.append(QueueDepth("waiting", "", len(self._due)))
        rows.append(QueueDepth("held", "", len(self.held)))
        return rows

    def is_active(self, queue_id: str) -> bool:
        """Whether some of the message's recipients are queued on a destination or sending."""
        return queue_id in self._live

    def retry_now(self, entry: QueueEntry) -> None:
        """Make every pending recipient due now (the caller persists the entry first)."""
        for state in entry.pending:
            state.next_attempt_at = 0.0
        self.enqueue(entry)

    # -- batches -------------------------------------------------------------------------

    def batch_changed(self, key: BatchKey, status: BatchStatus | None) -> None:
        """A batch was paused, cancelled or resumed: the messages a lifted pause parked are
        looked at again (delivered now, or dropped if the batch is cancelled)."""
        released = self.batches.set(key, status)
        if released:
            self._tasks.spawn(self._reload(released))

    def _batch_allows(self, entry: QueueEntry, due: list[RecipientState], now: float) -> bool:
        """Whether the message's batch lets its due recipients go now. A pause parks the
        message (and looks again when its queue lifetime ends); a cancel drops them."""
        envelope, lifetime = entry.envelope, self._settings.max_queue_lifetime_seconds
        status = self.batches.status_of(envelope)
        verdict = batch_verdict(status, envelope.lifetime_start, now, lifetime)
        if verdict == "park":
            self.batches.park(envelope)
            self._due.schedule(envelope.queue_id, envelope.lifetime_start + lifetime)
        elif verdict != "send":
            drop_due(entry, due, verdict, self._bus, int(now))
            if envelope.queue_id not in self._live:  # else its running jobs store it
                self._tasks.spawn(self._recorder.store_state(entry))
        return verdict == "send"

    def accounts_disabled(self, account_ids: frozenset[str]) -> None:
        """Which accounts are disabled now: their mail is parked as it comes due; the parked
        mail of accounts enabled again goes out."""
        released = self.accounts.set(account_ids)
        if released:
            self._tasks.spawn(self._reload(released))

    # -- test keys and due messages ------------------------------------------------------

    async def _sandbox(self, entry: QueueEntry, states: list[RecipientState]) -> None:
        """Test keys: the mailbox simulator picks each outcome; nothing leaves the machine."""
        queue_id = entry.envelope.queue_id
        content = self._live.content(queue_id)
        if content is None and wants_content(states):
            content = await self._store.load_content(queue_id)
        await self._recorder.finish_each(Job(entry, states, ""), simulated_outcomes(states))
        for event in follow_ups(entry, states, content, int(self._clock.time()) + 1):
            self._bus.emit(event)

    async def _reload(self, queue_ids: list[str]) -> None:
        """Enqueue these messages again, as the spool (or the flight) has them now."""
        for entry in await asyncio.gather(*(self._load(qid) for qid in queue_ids)):
            if entry is not None:
                self.enqueue(entry)

    async def _load(self, queue_id: str) -> QueueEntry | None:
        live = self._live.entry(queue_id)
        if live is not None:
            return live
        try:
            return await self._store.load(queue_id)
        except KeyError:  # delivered or removed meanwhile
            return None
