"""The event bus: batches message-log entries and events into SQL, off the hot path.

One writer task drains the queue; each batch is one transaction that inserts log rows and
events, moves recipient and message status, hands the events to every `EventSink`
(suppressions, stats) and fills the webhook outbox.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol, cast

import msgspec
from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mta.core.clock import Clock, SystemClock
from mta.core.events import (
    RECIPIENT_STATUS,
    Event,
    event_type,
    stored_fields,
    webhook_payload,
)
from mta.core.metrics import Metrics
from mta.core.model import new_id
from mta.db.models import Event as EventRow
from mta.db.models import Message, MessageCategory, MessageRecipient, Webhook, WebhookDelivery
from mta.db.write_turns import WriteTurns

log = logging.getLogger(__name__)
BATCH_LIMIT = 500


class MessageLogEntry(msgspec.Struct, kw_only=True):
    """A message as accepted by intake, for the message log."""

    message_id: str
    account_id: str
    api_key_id: str | None
    from_email: str
    subject: str
    template_id: str | None
    categories: list[str]
    custom_args: dict[str, str]
    sandbox: bool
    recipients: list[tuple[int, str]]
    created_at: float


class EventSink(Protocol):
    """Something kept from events in the bus's own transaction (suppressions, daily stats):
    it is written with the events or not at all."""

    async def apply(self, session: AsyncSession, events: Sequence[Event]) -> None: ...


def aggregate_status(statuses: list[str]) -> str:
    """One message status from its recipients' statuses."""
    for pending in ("deferred", "processed"):
        if pending in statuses:
            return pending
    if len(set(statuses)) == 1:
        return statuses[0]
    return "delivered" if "delivered" in statuses else "not_delivered"


class EventBus:
    def __init__(
        self,
        sessions: async_sessionmaker[Any],
        on_outbox: Callable[[], None] | None = None,
        sinks: Sequence[EventSink] = (),
        metrics: Metrics | None = None,
        clock: Clock | None = None,
        turns: WriteTurns | None = None,
    ) -> None:
        self._sessions = sessions
        self._turns = turns or WriteTurns()
        self._metrics = metrics
        self._clock = clock or SystemClock()
        self._on_outbox = on_outbox
        self._sinks = list(sinks)
        self._queue: asyncio.Queue[MessageLogEntry | Event | asyncio.Future[None]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def add_sink(self, sink: EventSink) -> None:
        self._sinks.append(sink)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="event-bus")

    async def stop(self) -> None:
        await self.flush()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def accepted(self, entry: MessageLogEntry) -> None:
        self._queue.put_nowait(entry)

    def emit(self, event: Event) -> None:
        self._queue.put_nowait(event)
        if self._metrics is not None:
            self._metrics.event(event)

    async def flush(self) -> None:
        """Wait until everything emitted so far is written."""
        await self._queue.join()

    async def written(self) -> None:
        """Wait until everything emitted before this call is in the database (or its batch
        failed and was logged). The scheduler waits for it before the spool forgets an
        outcome, so a crash can repeat a delivery but never lose its event."""
        marker: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(marker)
        await marker

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < BATCH_LIMIT and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            markers = [item for item in batch if isinstance(item, asyncio.Future)]
            try:
                await self._write([item for item in batch if not isinstance(item, asyncio.Future)])
            except Exception:
                log.exception("event=event_batch_failed size=%d", len(batch))
            finally:
                for marker in markers:
                    if not marker.done():
                        marker.set_result(None)
                for _ in batch:
                    self._queue.task_done()

    async def _write(self, batch: list[MessageLogEntry | Event]) -> None:
        entries = [item for item in batch if isinstance(item, MessageLogEntry)]
        events = [item for item in batch if not isinstance(item, MessageLogEntry)]
        if not entries and not events:
            return
        async with self._turns.turn(), self._sessions() as session, session.begin():
            await _add_log_rows(session, entries)
            await _record_events(session, events)
            await _refresh_status(session, _status_changes(events))
            for sink in self._sinks:
                await sink.apply(session, events)
            queued = await _fill_outbox(session, events, self._clock.time())
        if queued and self._on_outbox is not None:
            self._on_outbox()


# The batch is written with Core executemany statements, not ORM objects: one INSERT or
# UPDATE per table per batch instead of a query per event.
MESSAGES = cast(Table, Message.__table__)
RECIPIENTS = cast(Table, MessageRecipient.__table__)
EVENTS = cast(Table, EventRow.__table__)
OUTBOX = cast(Table, WebhookDelivery.__table__)


async def _add_log_rows(session: AsyncSession, entries: list[MessageLogEntry]) -> None:
    if not entries:
        return
    await session.execute(
        insert(MESSAGES),
        [
            {
                "id": e.message_id,
                "account_id": e.account_id,
                "api_key_id": e.api_key_id,
                "from_email": e.from_email,
                "subject": e.subject,
                "template_id": e.template_id,
                "categories": e.categories,
                "custom_args": e.custom_args,
                "status": "processed",
                "sandbox": e.sandbox,
                "created_at": e.created_at,
                "updated_at": e.created_at,
                "last_event_time": e.created_at,
            }
            for e in entries
        ],
    )
    categories = [
        {
            "message_id": e.message_id,
            "category": c,
            "account_id": e.account_id,
            "created_at": e.created_at,
        }
        for e in entries
        for c in dict.fromkeys(e.categories)
    ]
    if categories:  # the side table the message log's category filter reads
        await session.execute(insert(MessageCategory), categories)
    await session.execute(
        insert(RECIPIENTS),
        [
            {"message_id": e.message_id, "index": index, "email": email, "status": "processed"}
            for e in entries
            for index, email in e.recipients
        ],
    )


async def _record_events(session: AsyncSession, events: list[Event]) -> None:
    if not events:
        return
    await session.execute(
        insert(EVENTS),
        [
            {
                "event_id": event.event_id,
                "account_id": event.account_id,
                "message_id": event.message_id,
                "email": event.email,
                "event_type": event_type(event),
                "timestamp": event.timestamp,
                "data": stored_fields(event),
            }
            for event in events
        ],
    )


def _status_changes(events: list[Event]) -> dict[tuple[str, int], str]:
    """(message id, recipient index) → the status the batch's last event for it sets."""
    changes: dict[tuple[str, int], str] = {}
    for event in events:
        status = RECIPIENT_STATUS.get(event_type(event))
        if status is not None and event.recipient_index >= 0:
            changes[(event.message_id, event.recipient_index)] = status
    return changes


async def _refresh_status(session: AsyncSession, changes: dict[tuple[str, int], str]) -> None:
    """Move recipient statuses, then recompute each touched message's status."""
    if not changes:
        return
    await session.execute(
        update(RECIPIENTS)
        .where(RECIPIENTS.c.message_id == bindparam("m"), RECIPIENTS.c.index == bindparam("i"))
        .values(status=bindparam("s")),
        [{"m": m, "i": i, "s": s} for (m, i), s in changes.items()],
    )
    touched = {message_id for message_id, _ in changes}
    rows = await session.execute(
        select(MessageRecipient.message_id, MessageRecipient.status).where(
            MessageRecipient.message_id.in_(touched)
        )
    )
    statuses: dict[str, list[str]] = {}
    for message_id, status in rows:
        statuses.setdefault(message_id, []).append(status)
    await session.execute(
        update(MESSAGES).where(MESSAGES.c.id == bindparam("m")).values(status=bindparam("s")),
        [{"m": m, "s": aggregate_status(found)} for m, found in statuses.items()],
    )


async def _fill_outbox(session: AsyncSession, events: list[Event], now: float) -> int:
    """A pending outbox row for each (event, enabled webhook of its account that wants it),
    stamped `now`: the time the sender's lag and SendGrid batching count from."""
    accounts = {event.account_id for event in events}
    if not accounts:
        return 0
    hooks = list(
        await session.scalars(
            select(Webhook).where(Webhook.account_id.in_(accounts), Webhook.enabled.is_(True))
        )
    )
    rows = []
    for event in events:
        kind = event_type(event)
        for hook in hooks:
            if hook.account_id != event.account_id or kind not in hook.enabled_events:
                continue
            body = msgspec.json.encode(webhook_payload(event)).decode()
            rows.append(
                {
                    "id": new_id(),
                    "webhook_id": hook.id,
                    "event_id": event.event_id,
                    "event_type": kind,
                    "payload": body,
                    "state": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
            )
    if rows:
        await session.execute(insert(OUTBOX), rows)
    return len(rows)
