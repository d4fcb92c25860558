"""The scheduler: per-destination ready queues with connection limits and reuse, a retry
heap, results turned into events and spool updates; rebuilt from the spool at start. A slow
or dead destination holds only its own connections. Only messages being delivered are held
in memory; a deferred or scheduled one is a (due time, queue id) pair until due."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import random
import time
from collections import Counter, defaultdict
from typing import Any

from config.settings import DeliverySettings
from mta.core.addresses import domain_of
from mta.core.errors import PermanentFailure, TransientFailure
from mta.core.events import Bounce, Delivered, event_type
from mta.core.metrics import Metrics, QueueDepth
from mta.core.model import Outcome
from mta.delivery.client import SmtpSession
from mta.delivery.deliverer import Deliverer, transactions
from mta.events.bus import EventBus
from mta.scheduler.backoff import expired, retry_delay
from mta.scheduler.batches import BatchGate, BatchKey, BatchStatus, batch_verdict, drop_due
from mta.scheduler.destinations import Destination, Job
from mta.scheduler.outcomes import outcome_event
from mta.scheduler.simulator import follow_ups, retry_seconds, simulated_outcomes, wants_content
from queue_store import QueueStore, SpoolUnavailable
from queue_store.entries import QueueEntry, RecipientState, SmtpReply

log = logging.getLogger(__name__)
FINISH_GRACE_SECONDS = 10.0  # at stop, how long outcomes already received may take to record
RETRY_BATCH = 200  # due messages loaded from the spool at once


class Scheduler:
    def __init__(
        self,
        store: QueueStore,
        deliverer: Deliverer,
        bus: EventBus,
        settings: DeliverySettings,
        rng: random.Random | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._deliverer = deliverer
        self._bus = bus
        self._settings = settings
        self._rng = rng or random.Random()
        self._destinations: dict[str, Destination] = {}
        self._inflight: set[tuple[str, int]] = set()  # (queue id, recipient index)
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._live: dict[str, QueueEntry] = {}  # entries with jobs under way
        self._live_jobs: Counter[str] = Counter()
        self._content: dict[str, bytes] = {}  # bodies of live entries, from intake
        self._due: list[tuple[float, str]] = []  # retry heap of (due time, queue id)
        self._due_changed = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._finishing: set[asyncio.Task[None]] = set()  # outcomes being recorded
        self._connections = 0
        self._running = False
        self.held: set[str] = set()  # queue ids an operator put on hold
        self.batches = BatchGate()

    # -- intake side -------------------------------------------------------------------

    def enqueue(self, entry: QueueEntry, content: bytes | None = None) -> None:
        """Queue the due, not yet in-flight recipients of `entry` on their destinations; a
        message with nothing due (a scheduled send) waits on the retry heap.

        Intake passes the content it has just spooled, which saves reading it back for the
        first attempt; it is dropped when the message has no job under way any more."""
        queue_id, now = entry.envelope.queue_id, time.time()
        if queue_id in self.held:
            return
        entry = self._live.get(queue_id, entry)  # one object per message while in flight
        soon = now if entry.envelope.send_at else now + 0.5  # a scheduled send never goes early
        due = [
            s
            for s in entry.pending
            if (queue_id, s.index) not in self._inflight and s.next_attempt_at <= soon
        ]
        if not due:
            waiting = min((s.next_attempt_at for s in entry.pending), default=None)
            if waiting is not None and queue_id not in self._live:  # else its jobs plan retries
                self._schedule(queue_id, waiting)
            return
        if entry.envelope.batch_id and not self._batch_allows(entry, due, now):
            return
        if content is not None:
            self._content[queue_id] = content
        self._inflight.update((queue_id, s.index) for s in due)
        self._live[queue_id] = entry
        if entry.envelope.sandbox:
            self._live_jobs[queue_id] += 1
            self._spawn(self._sandbox(entry, due))
            return
        by_domain: defaultdict[str, list[RecipientState]] = defaultdict(list)
        for state in due:
            by_domain[domain_of(state.email)].append(state)
        self._live_jobs[queue_id] += len(by_domain)
        for domain, states in by_domain.items():
            destination = self._destination(self._deliverer.destination_key(domain))
            destination.push(Job(entry, states, domain))
            self._kick(destination)

    def recover(self) -> int:
        """Schedule every pending message found in the spool; returns how many."""
        count = 0
        for entry in self._store.recover():
            pending = entry.pending
            if pending:
                self._schedule(entry.envelope.queue_id, min(s.next_attempt_at for s in pending))
                count += 1
        return count

    def start(self) -> None:
        self._running = True
        self._spawn(self._retry_loop())
        for destination in self._destinations.values():
            self._kick(destination)

    async def stop(self, grace: float = 0.0) -> None:
        """Stop sending; connections finish the message they are sending within `grace`
        seconds; outcomes already received are still recorded (for a while)."""
        self._running = False
        for destination in self._destinations.values():
            destination.close_idle()
        deadline = time.monotonic() + grace
        while self._connections and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._finishing:
            await asyncio.wait(self._finishing, timeout=FINISH_GRACE_SECONDS)
        for task in list(self._finishing):
            task.cancel()
        await asyncio.gather(*self._finishing, return_exceptions=True)

    def apply_settings(self, settings: DeliverySettings) -> None:
        """A reload: routes, limits and TLS policies for what is sent from now on; a
        connection already open finishes its message on the old ones."""
        self._settings = settings
        self._deliverer.apply_settings(settings)
        for destination in self._destinations.values():
            concurrency, per_connection = settings.limits_for(destination.key)
            destination.concurrency = concurrency
            destination.messages_per_connection = per_connection
        self._kick_all()

    # -- destinations and connections --------------------------------------------------

    def _destination(self, key: str) -> Destination:
        destination = self._destinations.get(key)
        if destination is None:
            concurrency, per_connection = self._settings.limits_for(key)
            destination = Destination(key, concurrency, per_connection)
            self._destinations[key] = destination
        return destination

    def _kick(self, destination: Destination) -> None:
        """Open connections for waiting jobs, within the destination's and global limits."""
        if not self._running:
            return
        if destination.suspended():
            self._spawn(self._defer_suspended(destination))
            return
        while destination.wants_connection() and self._connections < self._settings.concurrency:
            destination.active += 1
            self._connections += 1
            self._spawn(self._connection(destination))

    def _kick_all(self) -> None:
        for destination in self._destinations.values():
            if destination.jobs:
                self._kick(destination)

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _connection(self, destination: Destination) -> None:
        try:
            job = destination.jobs.popleft() if destination.jobs else None
            if job is not None:
                await self._serve(destination, job)
        except Exception:
            log.exception("event=connection_failed destination=%s", destination.key)
        finally:
            destination.active -= 1
            self._connections -= 1
            if not destination.jobs and not destination.active:
                self._destinations.pop(destination.key, None)
            self._kick_all()

    async def _serve(self, destination: Destination, job: Job) -> None:
        """Open a session for `job` and keep sending the destination's jobs over it."""
        session = await self._open(destination, job)
        if session is None:
            return
        sent = 0
        try:
            current: Job | None = job
            while current is not None:
                await self._send(session, current)
                sent += 1
                if session.broken or sent >= destination.messages_per_connection:
                    break
                if not self._running:  # stopping: the next job waits in the spool
                    break
                current = await destination.next_job(self._settings.connection_idle_seconds)
        finally:
            await session.close()

    async def _open(self, destination: Destination, job: Job) -> SmtpSession | None:
        try:
            session = await self._deliverer.open(job.domain)
        except PermanentFailure as failure:
            await self._finish(job, Outcome(reply=failure.reply, mx=failure.mx_host or ""))
            return None
        except TransientFailure as failure:
            await self._finish(job, Outcome(reply=failure.reply, mx=failure.mx_host or ""))
            limit = self._settings.destination_failure_limit
            if destination.connection_failed(limit, self._settings.destination_backoff_seconds):
                log.warning(
                    "event=destination_backoff destination=%s failures=%d until=%.0f",
                    destination.key,
                    destination.failures,
                    destination.suspended_until,
                )
                await self._defer_suspended(destination, failure.reply)
            return None
        destination.connection_worked()
        return session

    async def _send(self, session: SmtpSession, job: Job) -> None:
        queue_id = job.entry.envelope.queue_id
        content = self._content.get(queue_id) or await self._store.load_content(queue_id)
        replies = await session.send(transactions(job.entry, job.states), content)
        tls = session.tls
        outcomes = [
            Outcome(
                reply=reply,
                mx=session.host,
                ip=session.source_ip,
                tls=tls is not None,
                tls_version=tls.version if tls else "",
                tls_cipher=tls.cipher if tls else "",
            )
            for reply in replies
        ]
        self._record_later(job, outcomes)

    def _record_later(self, job: Job, outcomes: list[Outcome]) -> None:
        """Recording waits for the events to reach the database; the session goes on."""
        task = asyncio.create_task(self._record(job, outcomes))
        self._finishing.add(task)
        task.add_done_callback(self._finishing.discard)

    async def _record(self, job: Job, outcomes: list[Outcome]) -> None:
        try:
            await self._finish_each(job, outcomes)
        except Exception:
            log.exception("event=outcome_not_recorded queue_id=%s", job.entry.envelope.queue_id)

    async def _defer_suspended(
        self, destination: Destination, reply: SmtpReply | None = None
    ) -> None:
        """A backed-off destination: defer everything queued for it, without attempts."""
        reason = reply or SmtpReply(451, "4.4.1", f"destination {destination.key} is backed off")
        while destination.jobs:
            job = destination.jobs.popleft()
            await self._finish(
                job,
                Outcome(reply=reason),
                counts_attempt=False,
                not_before=destination.suspended_until,
            )

    async def _sandbox(self, entry: QueueEntry, states: list[RecipientState]) -> None:
        """Test keys: the mailbox simulator picks each outcome; nothing leaves the machine."""
        queue_id = entry.envelope.queue_id
        content = self._content.get(queue_id)
        if content is None and wants_content(states):
            content = await self._store.load_content(queue_id)
        await self._finish_each(Job(entry, states, ""), simulated_outcomes(states))
        for event in follow_ups(entry, states, content, int(time.time()) + 1):
            self._bus.emit(event)

    # -- results -----------------------------------------------------------------------

    async def _finish(
        self,
        job: Job,
        outcome: Outcome,
        counts_attempt: bool = True,
        not_before: float = 0.0,
    ) -> None:
        await self._finish_each(job, [outcome] * len(job.states), counts_attempt, not_before)

    async def _finish_each(
        self,
        job: Job,
        outcomes: list[Outcome],
        counts_attempt: bool = True,
        not_before: float = 0.0,
    ) -> None:
        """Record each recipient's outcome as an event, then persist the entry's state."""
        entry, now = job.entry, time.time()
        is_expired = expired(
            entry.envelope.lifetime_start, now, self._settings.max_queue_lifetime_seconds
        )
        for state, outcome in zip(job.states, outcomes, strict=True):
            state.attempts += 1 if counts_attempt else 0
            self._apply(entry, state, outcome, max(now, not_before), is_expired)
        await self._bus.written()  # events first: a crash may repeat the delivery, not lose them
        await self._persist(job)

    def _apply(
        self,
        entry: QueueEntry,
        state: RecipientState,
        outcome: Outcome,
        now: float,
        is_expired: bool,
    ) -> None:
        state.last_reply = outcome.reply
        event = outcome_event(entry, state, outcome, is_expired)
        if isinstance(event, Delivered):
            state.status = "delivered"
            if self._metrics is not None:
                self._metrics.delivered_after(now - entry.envelope.lifetime_start)
        elif isinstance(event, Bounce):
            state.status = "bounced"
        else:
            delay = retry_delay(state.attempts, self._settings.retry_schedule_seconds, self._rng)
            state.next_attempt_at = now + retry_seconds(entry.envelope, delay)
        self._bus.emit(event)
        log.info(
            "event=%s message_id=%s queue_id=%s rcpt_index=%d destination=%s mx=%s reply=%r",
            event_type(event),
            entry.envelope.message_id,
            entry.envelope.queue_id,
            state.index,
            domain_of(state.email),
            outcome.mx,
            outcome.reply.line(),
        )

    async def _persist(self, job: Job) -> None:
        """Write the entry's recipient state (serialised per entry) and plan retries."""
        entry = job.entry
        queue_id = entry.envelope.queue_id
        async with self._locks[queue_id]:
            self._inflight.difference_update((queue_id, s.index) for s in job.states)
            await self._store_state(entry)
        self._live_jobs[queue_id] -= 1
        if self._live_jobs[queue_id] <= 0:  # no job left: the spool holds it from here on
            del self._live_jobs[queue_id]
            self._live.pop(queue_id, None)
            self._locks.pop(queue_id, None)
            self._content.pop(queue_id, None)
        deferred = [s for s in job.states if s.status == "pending"]
        if deferred:
            self._schedule(queue_id, min(s.next_attempt_at for s in deferred))

    async def _store_state(self, entry: QueueEntry) -> None:
        queue_id = entry.envelope.queue_id
        try:
            if entry.pending:
                await self._store.update(entry)
            else:
                await self._store.remove(queue_id)
        except SpoolUnavailable:
            # The outcome is already sent and in the events; after a restart the spool's
            # older state may deliver it again (a duplicate, never a loss).
            log.error("event=spool_state_not_recorded queue_id=%s", queue_id)

    # -- batches -------------------------------------------------------------------------

    def batch_changed(self, key: BatchKey, status: BatchStatus | None) -> None:
        """A batch was paused, cancelled or resumed: the messages a lifted pause parked are
        looked at again (delivered now, or dropped if the batch is cancelled)."""
        released = self.batches.set(key, status)
        if released:
            self._spawn(self._reload(released))

    def _batch_allows(self, entry: QueueEntry, due: list[RecipientState], now: float) -> bool:
        """Whether the message's batch lets its due recipients go now. A pause parks the
        message (and looks again when its queue lifetime ends); a cancel drops them."""
        envelope, lifetime = entry.envelope, self._settings.max_queue_lifetime_seconds
        status = self.batches.status_of(envelope)
        verdict = batch_verdict(status, envelope.lifetime_start, now, lifetime)
        if verdict == "park":
            self.batches.park(envelope)
            self._schedule(envelope.queue_id, envelope.lifetime_start + lifetime)
        elif verdict != "send":
            drop_due(entry, due, verdict, self._bus)
            if envelope.queue_id not in self._live:  # else its running jobs store it
                self._spawn(self._store_state(entry))
        return verdict == "send"

    # -- operator control ----------------------------------------------------------------

    def queue_depth(self) -> list[QueueDepth]:
        """For /metrics, read when scraped: jobs waiting per destination, recipients being
        delivered, messages waiting for a retry or their send time, messages on hold."""
        rows = [
            QueueDepth("ready", key, len(destination.jobs))
            for key, destination in self._destinations.items()
            if destination.jobs
        ]
        rows.append(QueueDepth("in_flight", "", len(self._inflight)))
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

    # -- retries -----------------------------------------------------------------------

    def _schedule(self, queue_id: str, when: float) -> None:
        if not self._due or when < self._due[0][0]:
            self._due_changed.set()
        heapq.heappush(self._due, (when, queue_id))

    async def _retry_loop(self) -> None:
        """Hand each message to enqueue() when its earliest pending recipient is due."""
        while True:
            self._due_changed.clear()
            wait = self._due[0][0] - time.time() if self._due else None
            if wait is None or wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._due_changed.wait(), wait)
                continue
            batch: list[str] = []
            while self._due and self._due[0][0] <= time.time() and len(batch) < RETRY_BATCH:
                batch.append(heapq.heappop(self._due)[1])
            await self._reload(batch)

    async def _reload(self, queue_ids: list[str]) -> None:
        for entry in await asyncio.gather(*(self._load(qid) for qid in queue_ids)):
            if entry is not None:
                self.enqueue(entry)

    async def _load(self, queue_id: str) -> QueueEntry | None:
        live = self._live.get(queue_id)
        if live is not None:
            return live
        try:
            return await self._store.load(queue_id)
        except KeyError:  # delivered or removed meanwhile
            return None
