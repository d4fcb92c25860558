"""What the scheduler tests share: a connector whose sessions accept, refuse or hang per
next-hop address (and can cut a connection), a resolver that must not be asked, an
in-memory spool that keeps what it stores as the real one does, and a bus that records."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import msgspec

from mta.core.errors import TransientFailure
from mta.core.events import Delivered, Event, event_type
from mta.delivery.pipelining import Transaction
from mta.delivery.routing import NextHop
from queue_store.entries import QueueEntry, SmtpReply

OK = SmtpReply(250, "2.0.0", "ok")


class FakeSession:
    def __init__(self, connector: FakeConnector, hop: NextHop) -> None:
        self.host, self.tls, self.broken = hop.host, None, False
        self.source_ip = "127.0.0.1"
        self._connector = connector
        self._address = hop.address

    async def send(self, transactions: list[Transaction], content: bytes) -> list[SmtpReply]:
        self._connector.sent.append((self._address, [t.recipient for t in transactions]))
        if self._connector.drop_after is not None:
            self._connector.drop_after -= 1
            if self._connector.drop_after < 0:
                self._connector.drop_after = None  # only the first connection is cut
                self.broken = True
                return [SmtpReply(451, "4.4.2", "connection lost")] * len(transactions)
        return [OK] * len(transactions)

    async def close(self) -> None:
        self._connector.closed += 1


class FakeConnector:
    """Behaviour per next-hop address: "ok", "refuse" (connect fails) or "hang" (until the
    connection is cancelled)."""

    def __init__(self, behaviour: dict[str, str]) -> None:
        self.behaviour = behaviour
        self.opened: list[str] = []
        self.sent: list[tuple[str, list[str]]] = []
        self.closed = 0
        self.drop_after: int | None = None

    async def open(self, hop: NextHop, policy: str) -> FakeSession:
        self.opened.append(hop.address)
        mode = self.behaviour.get(hop.address, "ok")
        if mode == "refuse":
            raise TransientFailure(
                SmtpReply(451, "4.4.1", "connection refused"), "destination", hop.host
            )
        if mode == "hang":
            await asyncio.Event().wait()
        return FakeSession(self, hop)


class NoDns:
    async def mx(self, name: str) -> Any:
        raise AssertionError("static routes need no DNS")

    txt = addresses = mx


class Spool:
    """Keeps encoded copies, as the real spool does: what is loaded is what was stored."""

    def __init__(self) -> None:
        self.entries: dict[str, bytes] = {}
        self.removed: list[str] = []

    async def put(self, entry: QueueEntry, content: bytes) -> None:
        self.entries[entry.envelope.queue_id] = msgspec.msgpack.encode(entry)

    async def update(self, entry: QueueEntry) -> None:
        self.entries[entry.envelope.queue_id] = msgspec.msgpack.encode(entry)

    async def remove(self, queue_id: str) -> None:
        self.entries.pop(queue_id, None)
        self.removed.append(queue_id)

    async def load(self, queue_id: str) -> QueueEntry:
        return msgspec.msgpack.decode(self.entries[queue_id], type=QueueEntry)

    async def load_content(self, queue_id: str) -> bytes:
        return b"Subject: x\r\n\r\nx\r\n"

    def recover(self) -> Iterator[QueueEntry]:
        return iter(
            [msgspec.msgpack.decode(data, type=QueueEntry) for data in self.entries.values()]
        )


class RecordingBus:
    """The event bus as the scheduler sees it: every event it emits, kept in order."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def emit(self, event: Event) -> None:
        self.events.append(event)

    async def written(self) -> None:
        return None

    def kinds(self, email: str) -> list[str]:
        return [event_type(e) for e in self.events if e.email == email]

    def delivered(self) -> dict[str, int]:
        """When each recipient was delivered (the Delivered event's timestamp)."""
        return {e.email: e.timestamp for e in self.events if isinstance(e, Delivered)}
