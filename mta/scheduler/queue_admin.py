"""Control of the queue, as postqueue / postsuper: list, show, retry, hold, release and delete,
over the spool and the running scheduler. Every call names whose mail it may touch: one
account's (another's is not there), or None for the operator's whole queue. Holds survive
restarts (a small JSON file beside the spool). A scheduled send never tried waits as
scheduled, mail that failed a try as deferred; one a paused batch parks is held."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Literal

import msgspec

from mta.core.clock import Clock, SystemClock
from mta.core.errors import Conflict, NotFound, StorageUnavailable
from mta.core.events import Dropped, about
from mta.events.bus import EventBus
from mta.scheduler.scheduler import Scheduler
from queue_store import QueueStore, SpoolUnavailable
from queue_store.entries import QueueEntry

QueueState = Literal["active", "scheduled", "deferred", "held"]
MAX_LIST = 1000
# What the scheduler says of a message in each state, before the spool is read.
_WAITING_AS: dict[QueueState, str] = {
    "active": "active",
    "held": "held",
    "scheduled": "waiting",
    "deferred": "waiting",
}


class QueuedRecipient(msgspec.Struct, kw_only=True):
    email: str
    status: str
    attempts: int
    next_attempt_at: float
    last_reply: str | None


class QueuedMessage(msgspec.Struct, kw_only=True):
    queue_id: str
    message_id: str
    account_id: str
    sender: str
    state: QueueState
    created_at: float
    recipients: list[QueuedRecipient]
    due_at: float | None = None  # earliest next attempt of a pending recipient
    send_at: int | None = None  # a scheduled send's time
    batch_id: str | None = None
    held_by_batch: bool = False  # held because its batch is paused, not by an operator


def scheduled_ahead(entry: QueueEntry, now: float) -> bool:
    """A scheduled send not yet due and never tried: `retry --all` leaves it to its time."""
    send_at = entry.envelope.send_at
    return send_at is not None and send_at > now and all(s.attempts == 0 for s in entry.pending)


class QueueControl:
    def __init__(
        self,
        store: QueueStore,
        scheduler: Scheduler,
        bus: EventBus,
        held_file: Path,
        clock: Clock | None = None,
    ) -> None:
        self._clock = clock or SystemClock()
        self._store = store
        self._scheduler = scheduler
        self._bus = bus
        self._held_file = held_file
        if held_file.exists():
            scheduler.held.update(json.loads(held_file.read_text()))

    def _waiting(self, queue_id: str) -> Literal["active", "waiting", "held"]:
        """What the scheduler alone says: held, being delivered, or waiting for its time."""
        scheduler = self._scheduler
        if (
            queue_id in scheduler.held
            or scheduler.batches.parked_by(queue_id)
            or scheduler.accounts.parks(queue_id)  # its account is disabled
        ):
            return "held"
        return "active" if scheduler.is_active(queue_id) else "waiting"

    def state_of(self, entry: QueueEntry) -> QueueState:
        """held, active, scheduled (a send_at ahead, never tried) or deferred (to retry)."""
        waiting = self._waiting(entry.envelope.queue_id)
        if waiting != "waiting":
            return waiting
        return "scheduled" if scheduled_ahead(entry, self._clock.time()) else "deferred"

    def view(self, entry: QueueEntry) -> QueuedMessage:
        env = entry.envelope
        return QueuedMessage(
            due_at=min((s.next_attempt_at for s in entry.pending), default=None),
            send_at=env.send_at,
            batch_id=env.batch_id,
            held_by_batch=self._scheduler.batches.parked_by(env.queue_id) is not None,
            queue_id=env.queue_id,
            message_id=env.message_id,
            account_id=env.account_id,
            sender=env.sender,
            state=self.state_of(entry),
            created_at=env.created_at,
            recipients=[
                QueuedRecipient(
                    email=s.email,
                    status=s.status,
                    attempts=s.attempts,
                    next_attempt_at=s.next_attempt_at,
                    last_reply=s.last_reply.line() if s.last_reply else None,
                )
                for s in entry.recipients
            ],
        )

    async def list(
        self,
        account: str | None = None,
        *,
        domain: str | None = None,
        state: QueueState | None = None,
        limit: int = 100,
    ) -> list[QueuedMessage]:
        """Queued messages by due time, filtered by recipient domain and state."""
        limit = max(1, min(limit, MAX_LIST))
        found: list[QueuedMessage] = []
        for queue_id, _due in sorted(self._store.pending_index().items(), key=lambda i: i[1]):
            if state is not None and self._waiting(queue_id) != _WAITING_AS[state]:
                continue  # decided without reading the message from the spool
            entry = await self._load(account, queue_id)
            if entry is None or (state is not None and self.state_of(entry) != state):
                continue
            if domain and not any(
                s.email.lower().endswith("@" + domain.lower()) for s in entry.pending
            ):
                continue
            found.append(self.view(entry))
            if len(found) >= limit:
                break
        return found

    async def show(self, account: str | None, queue_id: str) -> QueuedMessage:
        entry = await self._load(account, queue_id)
        if entry is None:
            raise NotFound(f"no message {queue_id} in the queue")
        return self.view(entry)

    async def retry(self, account: str | None, queue_id: str | None) -> int:
        """Make one message (or, with None, every deferred one: scheduled sends keep their
        time) due now; returns how many. Messages of a paused batch stay parked."""
        ids = [queue_id] if queue_id else list(self._store.pending_index())
        count = 0
        for qid in ids:
            entry = await self._load(account, qid)
            if entry is None:
                if queue_id:
                    raise NotFound(f"no message {queue_id} in the queue")
                continue
            state = self.state_of(entry)
            if state not in ("deferred", "scheduled") or (not queue_id and state == "scheduled"):
                continue
            self._scheduler.retry_now(entry)
            count += 1
        return count

    async def hold(self, account: str | None, queue_id: str) -> QueuedMessage:
        shown = await self.show(account, queue_id)
        self._scheduler.held.add(queue_id)
        await self._save_holds()
        shown.state = "held"
        return shown

    async def release(self, account: str | None, queue_id: str) -> QueuedMessage:
        """Lift a hold; a scheduled send not yet due goes back to waiting."""
        entry = await self._load(account, queue_id)
        if entry is None or queue_id not in self._scheduler.held:
            if entry is not None and self._scheduler.accounts.parks(queue_id):
                raise Conflict(
                    f"message {queue_id} is held because its account is disabled: enable the "
                    "account"
                )
            batch_id = self._scheduler.batches.parked_by(queue_id)
            if entry is not None and batch_id:
                raise Conflict(
                    f"message {queue_id} is held by its paused batch {batch_id}: resume the "
                    f"batch (DELETE /v3/user/scheduled_sends/{batch_id})"
                )
            raise NotFound(f"no held message {queue_id} in the queue")
        self._scheduler.held.discard(queue_id)
        await self._save_holds()
        if scheduled_ahead(entry, self._clock.time()):
            self._scheduler.enqueue(entry)
        else:
            self._scheduler.retry_now(entry)
        return self.view(entry)

    async def delete(self, account: str | None, queue_id: str) -> None:
        """Remove a message; its pending recipients get a dropped event."""
        entry = await self._load(account, queue_id)
        if entry is None:
            raise NotFound(f"no message {queue_id} in the queue")
        if self._scheduler.is_active(queue_id):
            raise Conflict(f"message {queue_id} is being delivered; hold it first")
        try:
            await self._store.remove(queue_id)
        except SpoolUnavailable as exc:
            raise StorageUnavailable(str(exc)) from exc
        who = "an operator" if account is None else "an admin of the account"
        reason, now = f"Deleted from the queue by {who}", int(self._clock.time())
        for state in entry.pending:
            self._bus.emit(Dropped(**about(entry.envelope, state), reason=reason, timestamp=now))
        if queue_id in self._scheduler.held:
            self._scheduler.held.discard(queue_id)
            await self._save_holds()

    async def _load(self, account: str | None, queue_id: str) -> QueueEntry | None:
        """The entry, if it is there and the caller's to see (None: the operator's view)."""
        try:
            entry = await self._store.load(queue_id)
        except KeyError:
            return None
        if account is not None and entry.envelope.account_id != account:
            return None
        return entry

    async def _save_holds(self) -> None:
        data = json.dumps(sorted(self._scheduler.held)).encode()
        await asyncio.to_thread(_replace_file, self._held_file, data)


def _replace_file(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(f".tmp{os.getpid()}.{time.monotonic_ns()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
