"""LogSpool: the durable spool as an append-only log of segments with group commit.

It owns the segment files, the committer task (their only writer), recovery (replay into
the in-memory index), reads by offset, dropping dead segments (deleted or kept) and compaction.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import msgspec

from queue_store.entries import QueueEntry, SpoolUnavailable
from queue_store.log_index import Location, LogIndex, tomb_needed
from queue_store.records import (
    PUT,
    REMOVE,
    SEGMENT_HEADER,
    STATE,
    UNTIL_SELF,
    Codec,
    CorruptRecord,
    SegmentReader,
    due_of,
    frame,
    repair_segment,
    scan_segment,
    segment_numbers,
    segment_path,
)
from queue_store.segment_files import Fsync, Pwrite, SegmentFiles

log = logging.getLogger(__name__)

_T = TypeVar("_T")
_READ_ERRORS = (OSError, CorruptRecord, msgspec.DecodeError, msgspec.ValidationError)


@dataclass(slots=True, eq=False)
class _Op:
    """One record waiting for the committer, and the future its submitter awaits."""

    kind: int
    queue_id: str
    parts: tuple[bytes, ...]
    meta_len: int = 0
    content_len: int = 0
    due: float | None = None
    lo: int = 0  # REMOVE: the segment range that may hold copies of the PUT
    hi: int = 0
    future: asyncio.Future[None] | None = None  # set when submitted
    length: int = field(init=False)

    def __post_init__(self) -> None:
        self.length = sum(len(p) for p in self.parts)


class LogSpool:
    """QueueStore as a segment log; concurrent writes share one write + fdatasync."""

    def __init__(
        self,
        directory: Path,
        *,
        segment_bytes: int = 64 << 20,
        max_batch_delay: float = 0.002,
        max_batch_bytes: int = 4 << 20,
        fsync: Fsync = os.fdatasync,
        pwrite: Pwrite = os.pwrite,
        keep_sent: bool = False,  # dead segments moved to sent/ rather than deleted
    ) -> None:
        self.directory = directory
        self.quarantine = directory / "quarantine"
        self._segment_bytes, self._max_batch_bytes = segment_bytes, max_batch_bytes
        self._max_batch_delay = max_batch_delay
        self._codec = Codec()
        self._files = SegmentFiles(
            directory, self._codec, max_batch_bytes, fsync, pwrite, keep_sent=keep_sent
        )
        self._index = LogIndex()
        self._reader = SegmentReader(directory, keep_open=False)
        self._queue: collections.deque[_Op] = collections.deque()
        self._queued_bytes = 0
        self._inflight: dict[str, int] = {}  # queue id → records submitted, not yet committed
        self._wake = asyncio.Event()
        self._gc_lock, self._compact_lock = asyncio.Lock(), asyncio.Lock()
        self._committer: asyncio.Task[None] | None = None
        self._closing = self._replayed = False
        self._fd = -1
        self._active = self._size = 0  # the segment being appended to; its committed length
        self._broken = False  # a failed batch could not be cut off it: roll before writing

    def __len__(self) -> int:
        return len(self._index.slots)

    def pending_index(self) -> dict[str, float]:
        """queue id → earliest next attempt of its pending recipients."""
        return self._index.pending()

    def recover(self) -> Iterator[QueueEntry]:
        """Replay every segment now; the iterator then yields each message still pending."""
        self._replay()
        return self._iter_pending()

    async def start(self) -> None:
        """Open a fresh segment and start the committer; tombstone finished messages."""
        if self._committer is not None:
            return
        await asyncio.to_thread(self._replay)  # a no-op when recover() ran first
        self._active = max(self._index.segments, default=0)
        await self._roll()
        self._closing = False
        self._committer = asyncio.create_task(self._run_committer(), name="spool-committer")
        finished = [q for q, slot in self._index.slots.items() if slot.due is None]
        log.info("event=spool_started segment=%d finished_removed=%d", self._active, len(finished))
        await asyncio.gather(*(self.remove(q) for q in finished))
        await self._collect_garbage()

    async def stop(self) -> None:
        """Commit what is queued, then fsync and close the segment."""
        if self._committer is None:
            return
        self._closing = True
        self._wake.set()
        await self._committer
        self._committer, fd, self._fd = None, self._fd, -1
        await asyncio.to_thread(self._files.close, fd)

    async def put(self, entry: QueueEntry, content: bytes) -> None:
        due = due_of(entry)
        meta = self._codec.put_meta(entry, due)
        parts = (frame(PUT, meta, content), content)
        await self._enqueue(_Op(PUT, entry.envelope.queue_id, parts, len(meta), len(content), due))

    async def update(self, entry: QueueEntry) -> None:
        queue_id = entry.envelope.queue_id
        if queue_id not in self._index.slots and queue_id not in self._inflight:
            raise KeyError(queue_id)
        due = due_of(entry)
        meta = self._codec.state_meta(entry, due)
        await self._enqueue(_Op(STATE, queue_id, (frame(STATE, meta),), len(meta), due=due))

    async def remove(self, queue_id: str) -> None:
        in_flight = queue_id in self._inflight
        slot = self._index.slots.get(queue_id)
        if slot is None and not in_flight:
            return
        lo = self._active if slot is None else slot.first_seg
        hi = UNTIL_SELF if slot is None or in_flight else slot.put_seg
        await self._enqueue(self._tomb_op(queue_id, lo, hi))

    def _tomb_op(self, queue_id: str, lo: int, hi: int) -> _Op:
        meta = self._codec.remove_meta(queue_id, lo, hi)
        return _Op(REMOVE, queue_id, (frame(REMOVE, meta),), lo=lo, hi=hi)

    async def load(self, queue_id: str) -> QueueEntry:
        return await self._read(queue_id, self._files.load)

    async def load_content(self, queue_id: str) -> bytes:
        return await self._read(queue_id, self._files.content)

    async def compact(self, max_live_ratio: float = 0.5) -> list[int]:
        """Copy the live records of mostly dead segments forward, then delete those segments."""
        async with self._compact_lock:
            done = [
                n
                for n in self._index.sparse(self._active, max_live_ratio)
                if await self._compact_segment(n)
            ]
            await self._collect_garbage()
            return done

    # -- the committer ---------------------------------------------------------------------

    def _enqueue(self, op: _Op) -> asyncio.Future[None]:
        if self._committer is None or self._closing:
            raise SpoolUnavailable("the queue is not running")
        op.future = future = asyncio.get_running_loop().create_future()
        self._queue.append(op)
        self._queued_bytes += op.length
        self._inflight[op.queue_id] = self._inflight.get(op.queue_id, 0) + 1
        self._wake.set()
        return future

    async def _run_committer(self) -> None:
        while self._queue or not self._closing:
            if not self._queue:
                self._wake.clear()
                await self._wake.wait()
                await self._gather()
                continue
            batch = self._take_batch()
            try:
                await self._commit(batch)
            except Exception as exc:  # a bug must not leave submitters waiting forever
                log.exception("event=spool_commit_crashed")
                self._settle(batch, exc)
            try:
                if self._index.emptied:
                    await self._collect_garbage()
            except Exception:  # nor stop the committer
                log.exception("event=spool_gc_crashed")

    async def _gather(self) -> None:
        """After an idle wake, let submitters join while they keep coming (≤ max_batch_delay)."""
        deadline = time.monotonic() + self._max_batch_delay
        while self._queued_bytes < self._max_batch_bytes and time.monotonic() < deadline:
            seen = len(self._queue)
            await asyncio.sleep(0)
            if len(self._queue) == seen:
                return

    def _take_batch(self) -> list[_Op]:
        """Up to max_batch_bytes of records (at least one): the torn-tail window of a crash."""
        batch = [self._queue.popleft()]
        size = batch[0].length
        while self._queue and size + self._queue[0].length <= self._max_batch_bytes:
            batch.append(op := self._queue.popleft())
            size += op.length
        self._queued_bytes -= size
        return batch

    async def _commit(self, batch: list[_Op]) -> None:
        """One write and one fdatasync for the batch; on failure cut it off the segment."""
        offset, seg = self._size, self._active
        try:
            if self._broken or self._size >= self._segment_bytes:
                await self._roll()
                offset, seg = self._size, self._active
            data = b"".join([part for op in batch for part in op.parts])
            await asyncio.to_thread(self._files.write, self._fd, data, offset)
        except OSError as exc:
            if seg == self._active:
                self._broken = not await asyncio.to_thread(self._files.truncate, self._fd, offset)
            self._settle(batch, exc)
            return
        index = self._index
        self._size = index.segments[seg].size = offset + len(data)
        for op in batch:
            index.apply(
                seg, offset, op.kind, op.queue_id, op.meta_len, op.content_len, op.due, op.lo, op.hi
            )
            offset += op.length
        self._settle(batch, None)

    def _settle(self, batch: list[_Op], error: Exception | None) -> None:
        if isinstance(error, OSError):
            log.error("event=spool_write_failed records=%d error=%r", len(batch), error.strerror)
        for op in batch:
            if left := self._inflight[op.queue_id] - 1:
                self._inflight[op.queue_id] = left
            else:
                del self._inflight[op.queue_id]
            if op.future is None or op.future.done():
                continue
            if error is None:
                op.future.set_result(None)
            else:
                failure = SpoolUnavailable("the queue cannot store the message now")
                failure.__cause__ = error
                op.future.set_exception(failure)

    async def _roll(self) -> None:
        """Start segment active+1 (header written and fsynced, directory fsynced)."""
        n = self._active + 1
        fd = await asyncio.to_thread(self._files.create, n)
        old, self._fd = self._fd, fd
        self._active, self._size, self._broken = n, SEGMENT_HEADER.size, False
        self._index.add_segment(n, self._size)
        self._index.emptied = True  # the old segment may now be deletable
        if old >= 0:
            await asyncio.to_thread(os.close, old)

    # -- garbage collection and compaction --------------------------------------------------

    async def _collect_garbage(self) -> None:
        """Delete dead segments; a round's unlinks are durable before the next round."""
        async with self._gc_lock:
            self._index.emptied = False
            while victims := self._index.deletable(self._active):
                try:
                    await asyncio.to_thread(self._files.drop, victims)
                except OSError as exc:
                    log.warning("event=spool_gc_failed error=%r", exc.strerror)
                    return
                for n in victims:
                    del self._index.segments[n]
                log.info("event=spool_segments_dropped segments=%s", victims)

    async def _compact_segment(self, n: int) -> bool:
        """Re-put every message with a live record in n, copy its needed tombstones."""
        slots = self._index.slots.items()
        moves = [(q, s.location()) for q, s in slots if n in (s.put_seg, s.state_seg)]
        existing = list(self._index.segments)
        try:
            copies, tombs = await asyncio.to_thread(self._plan_copies_sync, n, moves, existing)
        except _READ_ERRORS as exc:
            log.error("event=spool_compact_failed segment=%d error=%r", n, str(exc))
            return False
        complete, futures = True, []
        for (queue_id, before), op in zip(moves, copies, strict=True):
            if (slot := self._index.slots.get(queue_id)) is None:
                continue  # removed meanwhile: nothing left to move
            if slot.location() != before or queue_id in self._inflight:
                complete = False  # changed meanwhile; a later compaction retries
                continue
            futures.append(self._enqueue(op))
        futures += [self._enqueue(op) for op in tombs]
        results = await asyncio.gather(*futures, return_exceptions=True)
        if not complete or any(isinstance(r, BaseException) for r in results):
            return False
        if n in self._index.segments:
            self._index.segments[n].compacted = True
        log.info("event=spool_compacted segment=%d records=%d", n, len(futures))
        return True

    def _plan_copies_sync(
        self, n: int, moves: list[tuple[str, Location]], existing: list[int]
    ) -> tuple[list[_Op], list[_Op]]:
        """Read what must move out of segment n; build the records that copy it forward."""
        reader = SegmentReader(self.directory, keep_open=True)
        try:
            copies = [self._copy_op(queue_id, loc, reader) for queue_id, loc in moves]
        finally:
            reader.close()
        scan = scan_segment(segment_path(self.directory, n), self._codec)
        if scan.status == "corrupt":
            raise CorruptRecord(scan.detail)
        needed = (r for r in scan.records if r.kind == REMOVE)
        tombs = [
            self._tomb_op(r.queue_id, r.lo, r.hi)
            for r in needed
            if tomb_needed(r.lo, r.hi, n, existing)
        ]
        return copies, tombs

    def _copy_op(self, queue_id: str, loc: Location, reader: SegmentReader) -> _Op:
        """A PUT carrying the message's envelope, latest state and content."""
        entry, content = self._files.load(loc, reader), self._files.content(loc, reader)
        meta = self._codec.put_meta(entry, loc.due)
        parts = (frame(PUT, meta, content), content)
        return _Op(PUT, queue_id, parts, len(meta), len(content), loc.due)

    # -- recovery and reads ----------------------------------------------------------------

    def _replay(self) -> None:
        """Rebuild the index from every segment, in order; cut torn tails, quarantine."""
        if self._replayed:
            return
        self._replayed = True
        self.quarantine.mkdir(mode=0o700, parents=True, exist_ok=True)
        started, numbers = time.monotonic(), segment_numbers(self.directory)
        for n in numbers:
            scan_path = segment_path(self.directory, n)
            scan = scan_segment(scan_path, self._codec)
            if not repair_segment(scan_path, scan, self.quarantine, last=n == numbers[-1]):
                continue
            self._index.add_segment(n, scan.valid_end)
            for r in scan.records:
                self._index.apply(n, *r)
        seconds = time.monotonic() - started
        log.info("event=spool_replayed messages=%d seconds=%.3f", len(self), seconds)

    def _iter_pending(self) -> Iterator[QueueEntry]:
        reader = SegmentReader(self.directory, keep_open=True)
        try:
            for queue_id in list(self._index.slots):
                slot = self._index.slots.get(queue_id)
                if slot is None or slot.due is None:
                    continue
                try:
                    entry = self._files.load(slot.location(), reader)
                except _READ_ERRORS as exc:
                    log.error("event=spool_unreadable queue_id=%s error=%r", queue_id, str(exc))
                    continue
                yield entry
        finally:
            reader.close()

    async def _read(self, queue_id: str, read: Callable[[Location, SegmentReader], _T]) -> _T:
        """Read in a thread; read again once if compaction moved the message meanwhile."""
        for attempt in (1, 2):
            location = self._index.slots[queue_id].location()
            try:
                return await asyncio.to_thread(read, location, self._reader)
            except _READ_ERRORS as exc:
                if attempt == 1 and isinstance(exc, FileNotFoundError):
                    continue
                log.error("event=spool_unreadable queue_id=%s error=%r", queue_id, str(exc))
                raise SpoolUnavailable("the queued message cannot be read") from exc
        raise AssertionError("unreachable")
