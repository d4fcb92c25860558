"""The MX's durable inbound spool: each received message (envelope + raw bytes) is committed
to its own segment log (queue_store.LogSpool, group commit) before the 250, and removed once
the processor has recorded what it means. What is left after a crash is processed again."""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from pathlib import Path

import msgspec

from mta.core.errors import StorageUnavailable
from queue_store import LogSpool
from queue_store.entries import Envelope, QueueEntry, RecipientState

log = logging.getLogger(__name__)
INBOUND_SPOOL_DIR = "inbound"  # inside each worker's spool directory
SENDER_IP = "sender_ip"  # the custom arg that carries the client's address
MAX_CACHED_BYTES = 64 << 20  # bytes kept in memory for the processor; beyond, read back
# received and not yet processed: beyond this the MX answers 451 4.3.0 (senders retry) rather
# than let a sustained overload fill the disk; at the relay's rate, minutes of mail
MAX_WAITING = 100_000


class Received(msgspec.Struct, frozen=True, kw_only=True):
    """One message as the MX took it: its spool id, envelope and the client's address."""

    id: str
    mail_from: str
    rcpt_tos: list[str]
    sender_ip: str = ""
    received_at: float = msgspec.field(default_factory=time.time)


def to_entry(received: Received) -> QueueEntry:
    """The spool's record of `received`: one pending "recipient" per envelope recipient."""
    envelope = Envelope(
        message_id=received.id,
        queue_id=received.id,
        account_id="",
        sender=received.mail_from,
        sender_domain="",
        return_path_host="",
        created_at=received.received_at,
        custom_args={SENDER_IP: received.sender_ip},
    )
    recipients = [RecipientState(email=r, index=i) for i, r in enumerate(received.rcpt_tos)]
    return QueueEntry(envelope=envelope, recipients=recipients)


def from_entry(entry: QueueEntry) -> Received:
    envelope = entry.envelope
    return Received(
        id=envelope.queue_id,
        mail_from=envelope.sender,
        rcpt_tos=[r.email for r in entry.recipients],
        sender_ip=envelope.custom_args.get(SENDER_IP, ""),
        received_at=envelope.created_at,
    )


class InboundSpool:
    """Received messages not yet processed, oldest first. `put` returns once the message is
    on disk (fdatasync); `take` hands out what is waiting, `done` forgets it durably."""

    def __init__(self, directory: Path, max_waiting: int = MAX_WAITING) -> None:
        self._log = LogSpool(directory)
        self._max_waiting = max_waiting
        # ids waiting, oldest first, with the bytes when this process received them
        self._waiting: collections.OrderedDict[str, tuple[Received | None, bytes | None]] = (
            collections.OrderedDict()
        )
        self._cached_bytes = 0

    def __len__(self) -> int:
        return len(self._waiting)

    async def start(self) -> None:
        """Replay the log; everything left there waits to be processed again."""
        self._log.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        await self._log.start()
        for queue_id in self._log.pending_index():
            self._waiting.setdefault(queue_id, (None, None))
        if self._waiting:
            log.info("event=inbound_spool_recovered messages=%d", len(self._waiting))

    async def stop(self) -> None:
        await self._log.stop()

    async def put(self, received: Received, data: bytes) -> None:
        """Durable on return (SpoolUnavailable when it cannot be); StorageUnavailable (451)
        while `max_waiting` messages wait to be processed."""
        if len(self._waiting) >= self._max_waiting:
            raise StorageUnavailable(
                f"{len(self._waiting)} received messages wait to be processed: try again later"
            )
        await self._log.put(to_entry(received), data)
        if self._cached_bytes + len(data) > MAX_CACHED_BYTES:
            self._waiting[received.id] = (None, None)
            return
        self._cached_bytes += len(data)
        self._waiting[received.id] = (received, data)

    async def take(self, limit: int) -> list[tuple[Received, bytes]]:
        """Up to `limit` of the oldest waiting messages (they stay in the spool until
        `done`); an unreadable one is logged and dropped."""
        taken: list[tuple[Received, bytes]] = []
        for queue_id in list(self._waiting)[:limit]:
            received, data = self._waiting[queue_id]
            if received is None or data is None:
                try:
                    received = from_entry(await self._log.load(queue_id))
                    data = await self._log.load_content(queue_id)
                except Exception:
                    log.exception("event=inbound_spool_unreadable id=%s", queue_id)
                    await self.done([queue_id])
                    continue
            taken.append((received, data))
        return taken

    async def done(self, ids: list[str]) -> None:
        """Forget processed messages: their removal is on disk on return."""
        for queue_id in ids:
            _, data = self._waiting.pop(queue_id, (None, None))
            self._cached_bytes -= len(data or b"")
        await asyncio.gather(*(self._log.remove(queue_id) for queue_id in ids))
