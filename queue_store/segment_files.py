"""The spool's segment files, synchronously (the spool runs these in a thread): create a
segment, append and fsync, cut a torn tail off, drop dead ones, read a message back."""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Callable
from pathlib import Path

from queue_store.entries import QueueEntry
from queue_store.log_index import Location
from queue_store.records import (
    HEADER_LEN,
    Codec,
    SegmentReader,
    fsync_dir,
    segment_header,
    segment_path,
)
from queue_store.sent_copies import retire

log = logging.getLogger(__name__)

Fsync = Callable[[int], None]
Pwrite = Callable[[int, memoryview, int], int]


class SegmentFiles:
    """The segment files of one spool directory, with the write and sync calls to use."""

    def __init__(
        self,
        directory: Path,
        codec: Codec,
        max_batch_bytes: int,
        fsync: Fsync,
        pwrite: Pwrite,
        *,
        keep_sent: bool = False,
    ) -> None:
        self.directory = directory
        self._keep_sent = keep_sent
        self._codec = codec
        self._max_batch_bytes = max_batch_bytes
        self._fsync, self._pwrite = fsync, pwrite

    def create(self, n: int) -> int:
        path = segment_path(self.directory, n)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            self.write(fd, segment_header(self._max_batch_bytes), 0)
            fsync_dir(self.directory)
        except OSError:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise
        return fd

    def close(self, fd: int) -> None:
        """Sync, then close (even when the sync fails)."""
        try:
            self._fsync(fd)
        finally:
            os.close(fd)

    def write(self, fd: int, data: bytes, offset: int) -> None:
        view = memoryview(data)
        while view:
            if (written := self._pwrite(fd, view, offset)) <= 0:
                raise OSError(errno.EIO, "short write")
            view, offset = view[written:], offset + written
        self._fsync(fd)

    def truncate(self, fd: int, size: int) -> bool:
        try:
            os.ftruncate(fd, size)
            self._fsync(fd)
        except OSError as exc:
            log.error("event=spool_truncate_failed error=%r action=roll", exc.strerror)
            return False
        return True

    def drop(self, segments: list[int]) -> None:
        """Delete dead segments, or with keep_sent move them to sent/ (sent_copies)."""
        if self._keep_sent:
            retire(self.directory, segments)
            return
        for n in segments:
            segment_path(self.directory, n).unlink(missing_ok=True)
        fsync_dir(self.directory)

    def load(self, loc: Location, reader: SegmentReader) -> QueueEntry:
        put, _ = reader.record(loc.put_seg, loc.put_off, HEADER_LEN + loc.meta_len)
        state = None
        if loc.state_len:
            state, _ = reader.record(loc.state_seg, loc.state_off, HEADER_LEN + loc.state_len)
        return self._codec.entry(put, state)

    def content(self, loc: Location, reader: SegmentReader) -> bytes:
        length = HEADER_LEN + loc.meta_len + loc.content_len
        return reader.record(loc.put_seg, loc.put_off, length, content=True)[1]
