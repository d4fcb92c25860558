"""Accounts an operator disabled: their mail waits in the spool, parked here rather than
sent, until the account is enabled again (or the mail is removed from the queue)."""

from __future__ import annotations

from queue_store.entries import Envelope


class AccountGate:
    def __init__(self) -> None:
        self._disabled: frozenset[str] = frozenset()
        self._parked: dict[str, str] = {}  # queue id -> its account

    def blocks(self, envelope: Envelope) -> bool:
        return envelope.account_id in self._disabled

    def park(self, envelope: Envelope) -> None:
        self._parked[envelope.queue_id] = envelope.account_id

    def parks(self, queue_id: str) -> bool:
        return queue_id in self._parked

    def set(self, disabled: frozenset[str]) -> list[str]:
        """Which accounts are disabled now; the parked messages of those no longer are."""
        self._disabled = disabled
        released = [qid for qid, account in self._parked.items() if account not in disabled]
        for queue_id in released:
            del self._parked[queue_id]
        return released
