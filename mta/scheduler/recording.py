"""What becomes of an attempt: each recipient's outcome is an event (delivered, deferred or
bounced, or bounced as expired), then the message's state goes to the spool (removed once
nothing is pending) and a deferred recipient's retry is planned on the due queue."""

from __future__ import annotations

import logging
import random

from config.settings import DeliverySettings
from mta.core.addresses import domain_of
from mta.core.clock import Clock
from mta.core.events import Bounce, Delivered, event_type
from mta.core.metrics import Metrics
from mta.core.model import Outcome
from mta.events.bus import EventBus
from mta.scheduler.backoff import expired, retry_delay
from mta.scheduler.destinations import Job
from mta.scheduler.due import DueQueue
from mta.scheduler.live import InFlight
from mta.scheduler.outcomes import outcome_event
from mta.scheduler.simulator import retry_seconds
from mta.scheduler.tasks import Tasks
from queue_store import QueueStore, SpoolUnavailable
from queue_store.entries import QueueEntry, RecipientState

log = logging.getLogger(__name__)
FINISH_GRACE_SECONDS = 10.0  # at stop, how long outcomes already received may take to record


class OutcomeRecorder:
    def __init__(
        self,
        store: QueueStore,
        bus: EventBus,
        settings: DeliverySettings,
        live: InFlight,
        due: DueQueue,
        clock: Clock,
        rng: random.Random,
        metrics: Metrics | None = None,
    ) -> None:
        self.settings = settings
        self._store = store
        self._bus = bus
        self._live = live
        self._due = due
        self._clock = clock
        self._rng = rng
        self._metrics = metrics
        self._recording = Tasks()  # outcomes received, waiting for their events' write

    def record_later(self, job: Job, outcomes: list[Outcome]) -> None:
        """Recording waits for the events to reach the database; the session goes on."""
        self._recording.spawn(self._record(job, outcomes))

    async def stop(self) -> None:
        """Outcomes already received are still recorded, for a while."""
        await self._recording.finish(FINISH_GRACE_SECONDS)

    async def _record(self, job: Job, outcomes: list[Outcome]) -> None:
        try:
            await self.finish_each(job, outcomes)
        except Exception:
            log.exception("event=outcome_not_recorded queue_id=%s", job.entry.envelope.queue_id)

    async def finish(
        self, job: Job, outcome: Outcome, counts_attempt: bool = True, not_before: float = 0.0
    ) -> None:
        """The same outcome for every recipient of the job."""
        await self.finish_each(job, [outcome] * len(job.states), counts_attempt, not_before)

    async def finish_each(
        self,
        job: Job,
        outcomes: list[Outcome],
        counts_attempt: bool = True,
        not_before: float = 0.0,
    ) -> None:
        """Record each recipient's outcome as an event, then persist the entry's state. A
        deferral's retry is planned from `not_before` when that is later than now."""
        entry, now = job.entry, self._clock.time()
        is_expired = expired(
            entry.envelope.lifetime_start, now, self.settings.max_queue_lifetime_seconds
        )
        for state, outcome in zip(job.states, outcomes, strict=True):
            state.attempts += 1 if counts_attempt else 0
            self._apply(entry, state, outcome, now, max(now, not_before), is_expired)
        await self._bus.written()  # events first: a crash may repeat the delivery, not lose them
        await self._persist(job)

    def _apply(
        self,
        entry: QueueEntry,
        state: RecipientState,
        outcome: Outcome,
        now: float,
        retry_from: float,
        is_expired: bool,
    ) -> None:
        state.last_reply = outcome.reply
        event = outcome_event(entry, state, outcome, is_expired, int(now))
        if isinstance(event, Delivered):
            state.status = "delivered"
            if self._metrics is not None:
                self._metrics.delivered_after(retry_from - entry.envelope.lifetime_start)
        elif isinstance(event, Bounce):
            state.status = "bounced"
        else:
            delay = retry_delay(state.attempts, self.settings.retry_schedule_seconds, self._rng)
            state.next_attempt_at = retry_from + retry_seconds(entry.envelope, delay)
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
        async with self._live.lock(queue_id):
            self._live.landed(queue_id, job.states)
            await self.store_state(entry)
        self._live.job_done(queue_id)
        deferred = [s for s in job.states if s.status == "pending"]
        if deferred:
            self._due.schedule(queue_id, min(s.next_attempt_at for s in deferred))

    async def store_state(self, entry: QueueEntry) -> None:
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
