"""The QueueStore seam: what intake and the scheduler need from the durable spool.

`LogSpool` implements it; tests inject in-memory fakes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from queue_store.entries import QueueEntry


class QueueStore(Protocol):
    def recover(self) -> Iterator[QueueEntry]:
        """At start-up, before start(): every message with pending recipients."""
        ...

    async def start(self) -> None: ...
    async def stop(self) -> None: ...

    async def put(self, entry: QueueEntry, content: bytes) -> None:
        """Durable on return; raises SpoolUnavailable."""
        ...

    async def load(self, queue_id: str) -> QueueEntry:
        """Latest envelope and recipient state; KeyError when unknown."""
        ...

    async def load_content(self, queue_id: str) -> bytes: ...

    async def update(self, entry: QueueEntry) -> None:
        """Durable recipient state on return."""
        ...

    async def remove(self, queue_id: str) -> None: ...

    def pending_index(self) -> dict[str, float]:
        """queue id → when its earliest pending recipient is due."""
        ...
