"""The scheduler: a ready queue, delivery workers, retry timers and results turned into
events and spool updates. At start it rebuilds itself from the spool."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from typing import Any

from config.settings import DeliverySettings
from mta.delivery.classify import classify_bounce
from mta.delivery.deliverer import Deliverer
from mta.events.bus import EventBus
from mta.events.model import Bounce, Deferred, Delivered, Event, event_type
from mta.model import Outcome, QueueEntry, RecipientState, SmtpReply
from mta.scheduler.backoff import expired, retry_delay
from queue_store import QueueStore

log = logging.getLogger(__name__)


def outcome_event(
    entry: QueueEntry, state: RecipientState, outcome: Outcome, is_expired: bool
) -> Event:
    env = entry.envelope
    common: dict[str, Any] = dict(
        account_id=env.account_id,
        message_id=env.message_id,
        email=state.email,
        recipient_index=state.index,
        categories=env.categories,
        custom_args=env.custom_args,
    )
    reply = outcome.reply
    if reply.code < 400:
        return Delivered(
            **common, response=reply.line(), mx=outcome.mx, tls=outcome.tls, attempt=state.attempts
        )
    if reply.transient and not is_expired:
        return Deferred(
            **common,
            response=reply.line(),
            status=reply.enhanced,
            attempt=state.attempts,
            mx=outcome.mx,
        )
    if reply.transient:
        reply = SmtpReply(
            reply.code, "4.4.7", f"message expired in queue; last error: {reply.line()}"
        )
    classification, kind = classify_bounce(reply)
    return Bounce(
        **common,
        reason=reply.line(),
        status=reply.enhanced,
        type=kind,
        bounce_classification=classification,
        attempt=state.attempts,
        mx=outcome.mx,
    )


class Scheduler:
    def __init__(
        self,
        store: QueueStore,
        deliverer: Deliverer,
        bus: EventBus,
        settings: DeliverySettings,
        rng: random.Random | None = None,
    ) -> None:
        self._store = store
        self._deliverer = deliverer
        self._bus = bus
        self._settings = settings
        self._rng = rng or random.Random()
        self._ready: asyncio.Queue[QueueEntry] = asyncio.Queue()
        self._timers: set[asyncio.TimerHandle] = set()
        self._workers: list[asyncio.Task[None]] = []

    def enqueue(self, entry: QueueEntry) -> None:
        self._ready.put_nowait(entry)

    def _enqueue_at(self, entry: QueueEntry, when: float) -> None:
        delay = max(0.0, when - time.time())
        loop = asyncio.get_running_loop()
        handle: asyncio.TimerHandle

        def fire() -> None:
            self._timers.discard(handle)
            self.enqueue(entry)

        handle = loop.call_later(delay, fire)
        self._timers.add(handle)

    def recover(self) -> int:
        """Schedule every pending message found in the spool; returns how many."""
        count = 0
        for entry in self._store.scan():
            pending = entry.pending
            if pending:
                self._enqueue_at(entry, min(s.next_attempt_at for s in pending))
                count += 1
        return count

    def start(self) -> None:
        self._workers = [
            asyncio.create_task(self._work(), name=f"delivery-{n}")
            for n in range(self._settings.concurrency)
        ]

    async def stop(self) -> None:
        for handle in self._timers:
            handle.cancel()
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)

    async def _work(self) -> None:
        while True:
            entry = await self._ready.get()
            try:
                await self._attempt(entry)
            except Exception:
                log.exception("event=delivery_attempt_failed queue_id=%s", entry.envelope.queue_id)
                self._enqueue_at(entry, time.time() + self._settings.retry_schedule_seconds[0])

    async def _attempt(self, entry: QueueEntry) -> None:
        content = await self._store.load_content(entry.envelope.queue_id)
        outcomes = await self._deliverer.attempt(entry, content)
        now = time.time()
        is_expired = expired(
            entry.envelope.created_at, now, self._settings.max_queue_lifetime_seconds
        )
        for state, outcome in outcomes:
            state.attempts += 1
            state.last_reply = outcome.reply
            event = outcome_event(entry, state, outcome, is_expired)
            if isinstance(event, Delivered):
                state.status = "delivered"
            elif isinstance(event, Bounce):
                state.status = "bounced"
            if state.status == "pending":
                state.next_attempt_at = now + retry_delay(
                    state.attempts, self._settings.retry_schedule_seconds, self._rng
                )
            self._bus.emit(event)
            log.info(
                "event=%s queue_id=%s rcpt_index=%d mx=%s reply=%r",
                event_type(event),
                entry.envelope.queue_id,
                state.index,
                outcome.mx,
                outcome.reply.line(),
            )
        await self._persist(entry)

    async def _persist(self, entry: QueueEntry) -> None:
        pending = entry.pending
        if not pending:
            await self._store.remove(entry.envelope.queue_id)
            return
        await self._store.update(entry)
        self._enqueue_at(entry, min(s.next_attempt_at for s in pending))
