"""Scheduled-send batches as the scheduler sees them: each batch's pause or cancel (kept in
memory, told of every change by the batch service), the messages a pause has parked, and
the policy for a due message of a batch (`batch_verdict`)."""

from __future__ import annotations

from typing import Literal

from mta.core.events import Dropped, about
from mta.events.bus import EventBus
from queue_store.entries import Envelope, QueueEntry, RecipientState

BatchKey = tuple[str, str]  # (account id, batch id): batch ids never cross accounts
BatchStatus = Literal["pause", "cancel"]
Verdict = Literal["send", "park", "cancel", "expire"]

DROP_REASONS: dict[Verdict, str] = {
    "cancel": "Cancelled scheduled send (batch {batch_id})",
    "expire": "Expired: batch {batch_id} stayed paused past the queue lifetime",
}


def batch_verdict(
    status: BatchStatus | None, lifetime_start: float, now: float, max_lifetime: float
) -> Verdict:
    """What becomes of a due message of a batch: sent, parked by a pause, or dropped because
    the batch is cancelled or has stayed paused beyond the queue lifetime."""
    if status is None:
        return "send"
    if status == "cancel":
        return "cancel"
    return "expire" if now - lifetime_start >= max_lifetime else "park"


def key_of(envelope: Envelope) -> BatchKey:
    return envelope.account_id, envelope.batch_id or ""


class BatchGate:
    """Pause / cancel per batch, and the queue ids each pause holds back."""

    def __init__(self) -> None:
        self._status: dict[BatchKey, BatchStatus] = {}
        self._parked: dict[BatchKey, set[str]] = {}

    def status_of(self, envelope: Envelope) -> BatchStatus | None:
        return self._status.get(key_of(envelope)) if envelope.batch_id else None

    def set(self, key: BatchKey, status: BatchStatus | None) -> list[str]:
        """Record a batch's status; returns the messages its pause parked once it is lifted
        (to be looked at again: delivered, or dropped when the batch is now cancelled)."""
        if status is None:
            self._status.pop(key, None)
        else:
            self._status[key] = status
        if status == "pause":
            return []
        return sorted(self._parked.pop(key, set()))

    def park(self, envelope: Envelope) -> None:
        self._parked.setdefault(key_of(envelope), set()).add(envelope.queue_id)

    def parked_by(self, queue_id: str) -> str | None:
        """The batch id whose pause holds this message back, if any."""
        return next((key[1] for key, ids in self._parked.items() if queue_id in ids), None)


def drop_due(
    entry: QueueEntry,
    states: list[RecipientState],
    verdict: Verdict,
    bus: EventBus,
    timestamp: int,
) -> None:
    """Mark the recipients dropped and emit a dropped event for each, stamped `timestamp`;
    the caller stores the entry's new state."""
    reason = DROP_REASONS[verdict].format(batch_id=entry.envelope.batch_id)
    for state in states:
        state.status = "dropped"
        bus.emit(Dropped(**about(entry.envelope, state), reason=reason, timestamp=timestamp))
