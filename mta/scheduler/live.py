"""The messages being delivered: one entry object per message while any of its jobs is under
way, which of its recipients are in flight, the content intake handed over (saving a read
of the spool for the first attempt), and a lock serialising the writes of its state."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict

from queue_store.entries import QueueEntry, RecipientState


class InFlight:
    def __init__(self) -> None:
        self._sending: set[tuple[str, int]] = set()  # (queue id, recipient index)
        self._entries: dict[str, QueueEntry] = {}
        self._jobs: Counter[str] = Counter()  # jobs under way per queue id
        self._content: dict[str, bytes] = {}
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    def __contains__(self, queue_id: str) -> bool:
        return queue_id in self._entries

    def recipients(self) -> int:
        return len(self._sending)

    def entry(self, queue_id: str) -> QueueEntry | None:
        return self._entries.get(queue_id)

    def current(self, entry: QueueEntry) -> QueueEntry:
        """The object in flight for this message, if any, else `entry` itself."""
        return self._entries.get(entry.envelope.queue_id, entry)

    def due(self, entry: QueueEntry, soon: float) -> list[RecipientState]:
        """The pending recipients due by `soon` and not in flight already."""
        queue_id = entry.envelope.queue_id
        return [
            s
            for s in entry.pending
            if (queue_id, s.index) not in self._sending and s.next_attempt_at <= soon
        ]

    def take(
        self, entry: QueueEntry, states: list[RecipientState], jobs: int, content: bytes | None
    ) -> None:
        """`jobs` jobs start for these recipients of `entry`."""
        queue_id = entry.envelope.queue_id
        if content is not None:
            self._content[queue_id] = content
        self._sending.update((queue_id, s.index) for s in states)
        self._entries[queue_id] = entry
        self._jobs[queue_id] += jobs

    def content(self, queue_id: str) -> bytes | None:
        return self._content.get(queue_id)

    def lock(self, queue_id: str) -> asyncio.Lock:
        return self._locks[queue_id]

    def landed(self, queue_id: str, states: list[RecipientState]) -> None:
        """These recipients' outcomes are in: they are no longer in flight."""
        self._sending.difference_update((queue_id, s.index) for s in states)

    def job_done(self, queue_id: str) -> None:
        """One job of the message ended; with none left the spool holds it from here on."""
        self._jobs[queue_id] -= 1
        if self._jobs[queue_id] <= 0:
            del self._jobs[queue_id]
            self._entries.pop(queue_id, None)
            self._locks.pop(queue_id, None)
            self._content.pop(queue_id, None)
