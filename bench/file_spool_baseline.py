"""The first spool, kept as the benchmark's baseline: one file per message, each put
fsynced on its own (file and directory). bench/spool_bench.py runs it beside LogSpool.

`<id>.msg` holds envelope, initial recipients and content (written once, fsynced, renamed
into place: the rename is the commit); `<id>.rcpt` holds later recipient state, replaced
atomically. Unreadable files are moved to `quarantine/` at scan time.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import msgspec

from mta.core.errors import StorageUnavailable
from queue_store.entries import Envelope, QueueEntry, RecipientState

log = logging.getLogger(__name__)


class SpooledMessage(msgspec.Struct):
    """The on-disk record of `<id>.msg`."""

    envelope: Envelope
    recipients: list[RecipientState]
    content: bytes


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_durably(directory: Path, name: str, data: bytes) -> None:
    """Write to a temporary name, fsync, rename into place, fsync the directory."""
    tmp = directory / f".{name}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        _write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, directory / name)
    _fsync_dir(directory)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


class FileSpool:
    """QueueStore on a local directory; blocking I/O runs in worker threads."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.quarantine = directory / "quarantine"
        self.directory.mkdir(parents=True, exist_ok=True)
        self.quarantine.mkdir(exist_ok=True)
        self._encoder = msgspec.msgpack.Encoder()
        self._msg_decoder = msgspec.msgpack.Decoder(SpooledMessage)
        self._rcpt_decoder = msgspec.msgpack.Decoder(list[RecipientState])

    async def put(self, entry: QueueEntry, content: bytes) -> None:
        record = SpooledMessage(entry.envelope, entry.recipients, content)
        data = self._encoder.encode(record)
        try:
            await asyncio.to_thread(
                _write_durably, self.directory, f"{entry.envelope.queue_id}.msg", data
            )
        except OSError as exc:
            log.error(
                "event=spool_write_failed queue_id=%s error=%r",
                entry.envelope.queue_id,
                exc.strerror,
            )
            raise StorageUnavailable("the queue cannot store the message now") from exc

    async def load_content(self, queue_id: str) -> bytes:
        data = await asyncio.to_thread((self.directory / f"{queue_id}.msg").read_bytes)
        return self._msg_decoder.decode(data).content

    async def update(self, entry: QueueEntry) -> None:
        data = self._encoder.encode(entry.recipients)
        try:
            await asyncio.to_thread(
                _write_durably, self.directory, f"{entry.envelope.queue_id}.rcpt", data
            )
        except OSError as exc:
            raise StorageUnavailable("the queue cannot record delivery state now") from exc

    async def remove(self, queue_id: str) -> None:
        try:
            await asyncio.to_thread(self._remove_files, queue_id)
        except OSError as exc:
            raise StorageUnavailable("the queue cannot remove a finished message now") from exc

    def _remove_files(self, queue_id: str) -> None:
        for suffix in (".rcpt", ".msg"):
            (self.directory / f"{queue_id}{suffix}").unlink(missing_ok=True)
        _fsync_dir(self.directory)

    def scan(self) -> Iterator[QueueEntry]:
        """Every committed message with its latest recipient state; quarantines bad files."""
        for path in sorted(self.directory.glob("*.msg")):
            try:
                record = self._msg_decoder.decode(path.read_bytes())
                recipients = record.recipients
                state = path.with_suffix(".rcpt")
                if state.exists():
                    recipients = self._rcpt_decoder.decode(state.read_bytes())
            except (OSError, msgspec.DecodeError, msgspec.ValidationError) as exc:
                self._quarantine(path, exc)
                continue
            yield QueueEntry(envelope=record.envelope, recipients=recipients)

    def _quarantine(self, path: Path, exc: Exception) -> None:
        log.error("event=spool_quarantine file=%s error=%r", path.name, str(exc))
        for victim in (path, path.with_suffix(".rcpt")):
            if victim.exists():
                os.replace(victim, self.quarantine / victim.name)
