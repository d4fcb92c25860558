"""The spool log's records and segment files: framing (CRC32, type, lengths, msgpack
metadata), `scan_segment` (validates a segment without reading message bodies) and reads
by offset. The in-memory index lives in `queue_store.log_index`.
"""

from __future__ import annotations

import logging
import os
import re
import struct
import time
import zlib
from pathlib import Path
from typing import Final, Literal, NamedTuple

import msgspec

from queue_store.entries import Envelope, QueueEntry, RecipientState

log = logging.getLogger(__name__)

# A segment `seg-NNNNNN.log` is a 16-byte header (magic, writer's max batch bytes, crc32)
# followed by records. A record is a 20-byte header — crc32 of the rest of the header and
# the metadata, type, metadata length, content length, crc32 of the content — then the
# msgpack metadata (an array: PutMeta / StateMeta / RemoveMeta), then the content (PUT).
PUT: Final = 1  # envelope + recipients metadata, then the content bytes
STATE: Final = 2  # recipient state metadata only
REMOVE: Final = 3  # tombstone: queue id and the segment range that may hold its PUT copies
UNTIL_SELF: Final = 0xFFFFFFFF  # tombstone range end meaning "up to the segment holding it"
MAGIC: Final = b"SCSPOOL1"
SEGMENT_HEADER: Final = struct.Struct("<8sII")  # magic, writer's max batch bytes, crc32
RECORD_HEADER: Final = struct.Struct("<IB3xIII")  # crc32, type, meta len, content len, content crc
HEADER_LEN: Final = RECORD_HEADER.size
_REST: Final = struct.Struct("<B3xIII")  # the header after its crc32 field
_CRC: Final = struct.Struct("<I")
_MAX_META: Final = 16 << 20
_PROBE: Final = 1024  # bytes read per record while scanning: header and usually metadata
_PAGE: Final = 4096
_SEGMENT_NAME: Final = re.compile(r"seg-(\d{6,})\.log")


class CorruptRecord(Exception):
    """A record read back from a segment fails its checksum."""


class PutMeta(msgspec.Struct, array_like=True):
    queue_id: str
    due: float | None  # replay decodes only queue_id and due (see _Head)
    recipients: list[RecipientState]
    envelope: Envelope


class StateMeta(msgspec.Struct, array_like=True):
    queue_id: str
    due: float | None
    recipients: list[RecipientState]


class RemoveMeta(msgspec.Struct, array_like=True, frozen=True):
    queue_id: str
    lo: int
    hi: int


class _Head(msgspec.Struct, array_like=True, frozen=True):
    """The leading fields of PUT and STATE metadata: all that replay decodes."""

    queue_id: str
    due: float | None


def due_of(entry: QueueEntry) -> float | None:
    """Earliest next attempt of the pending recipients; None when nothing is pending."""
    return min((r.next_attempt_at for r in entry.recipients if r.status == "pending"), default=None)


class Codec:
    """msgpack encoders and decoders for record metadata (one per spool: nothing shared)."""

    def __init__(self) -> None:
        self._encoder = msgspec.msgpack.Encoder()
        self._head = msgspec.msgpack.Decoder(_Head)
        self._put = msgspec.msgpack.Decoder(PutMeta)
        self._state = msgspec.msgpack.Decoder(StateMeta)
        self._remove = msgspec.msgpack.Decoder(RemoveMeta)

    def put_meta(self, entry: QueueEntry, due: float | None) -> bytes:
        q = entry.envelope.queue_id
        return self._encoder.encode(PutMeta(q, due, entry.recipients, entry.envelope))

    def state_meta(self, entry: QueueEntry, due: float | None) -> bytes:
        return self._encoder.encode(StateMeta(entry.envelope.queue_id, due, entry.recipients))

    def remove_meta(self, queue_id: str, lo: int, hi: int) -> bytes:
        return self._encoder.encode(RemoveMeta(queue_id, lo, hi))

    def head(self, kind: int, meta: bytes) -> tuple[str, float | None, int, int]:
        """(queue id, due, tombstone lo, tombstone hi) of one record's metadata."""
        if kind == REMOVE:
            tomb = self._remove.decode(meta)
            return tomb.queue_id, None, tomb.lo, tomb.hi
        head = self._head.decode(meta)
        return head.queue_id, head.due, 0, 0

    def entry(self, put_meta: bytes, state_meta: bytes | None) -> QueueEntry:
        put = self._put.decode(put_meta)
        recipients = (
            put.recipients if state_meta is None else self._state.decode(state_meta).recipients
        )
        return QueueEntry(envelope=put.envelope, recipients=recipients)


def segment_header(window: int) -> bytes:
    head = MAGIC + struct.pack("<I", window)
    return head + _CRC.pack(zlib.crc32(head))


def frame(kind: int, meta: bytes, content: bytes = b"") -> bytes:
    """Record header and metadata; the content (PUT only) follows it on disk."""
    rest = _REST.pack(kind, len(meta), len(content), zlib.crc32(content))
    return _CRC.pack(zlib.crc32(meta, zlib.crc32(rest))) + rest + meta


def parse_record(data: bytes, *, with_content: bool) -> tuple[bytes, bytes]:
    """Check a record read back from disk; (metadata, content or b"")."""
    if len(data) < HEADER_LEN:
        raise CorruptRecord("short record")
    crc, _kind, meta_len, content_len, content_crc = RECORD_HEADER.unpack_from(data)
    meta_end = HEADER_LEN + meta_len
    if len(data) < meta_end or zlib.crc32(memoryview(data)[4:meta_end]) != crc:
        raise CorruptRecord("metadata checksum mismatch")
    if not with_content:
        return data[HEADER_LEN:meta_end], b""
    content = data[meta_end : meta_end + content_len]
    if len(content) != content_len or zlib.crc32(content) != content_crc:
        raise CorruptRecord("content checksum mismatch")
    return data[HEADER_LEN:meta_end], content


def segment_path(directory: Path, n: int) -> Path:
    return directory / f"seg-{n:06d}.log"


def segment_numbers(directory: Path) -> list[int]:
    names = (_SEGMENT_NAME.fullmatch(p.name) for p in directory.iterdir())
    return sorted(int(m.group(1)) for m in names if m)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class SegmentReader:
    """Reads checked records by offset; keeps segments open only if asked (recovery)."""

    def __init__(self, directory: Path, *, keep_open: bool) -> None:
        self._directory = directory
        self._fds: dict[int, int] | None = {} if keep_open else None

    def record(
        self, seg: int, off: int, length: int, *, content: bool = False
    ) -> tuple[bytes, bytes]:
        """(metadata, content or b"") of the record of `length` bytes at `off`."""
        cached = None if self._fds is None else self._fds.get(seg)
        if cached is None:
            fd = os.open(segment_path(self._directory, seg), os.O_RDONLY | os.O_CLOEXEC)
        else:
            fd = cached
        try:
            return parse_record(os.pread(fd, length, off), with_content=content)
        finally:
            if self._fds is None:
                os.close(fd)
            elif cached is None:
                self._fds[seg] = fd

    def close(self) -> None:
        for fd in (self._fds or {}).values():
            os.close(fd)


class ScannedRecord(NamedTuple):
    """One valid record; its fields are LogIndex.apply's arguments after the segment."""

    offset: int
    kind: int
    queue_id: str
    meta_len: int
    content_len: int
    due: float | None
    lo: int
    hi: int

    @property
    def end(self) -> int:
        return self.offset + HEADER_LEN + self.meta_len + self.content_len


class SegmentScan(NamedTuple):
    status: Literal["ok", "torn", "corrupt", "empty"]
    records: list[ScannedRecord]
    valid_end: int
    size: int
    detail: str


def scan_segment(path: Path, codec: Codec) -> SegmentScan:
    """Validate every record header and metadata of one segment, seeking past the bodies.

    Content checksums are checked only where an unsynced batch may have been torn by a
    crash: the last `window` bytes (the writer's max batch size) and the final record.
    A read error makes the segment corrupt (quarantined) rather than failing recovery.
    """
    size = 0
    try:
        with path.open("rb", buffering=0) as file:
            size = os.fstat(file.fileno()).st_size
            head = os.pread(file.fileno(), SEGMENT_HEADER.size, 0)
            if len(head) < SEGMENT_HEADER.size or not head.strip(b"\0"):
                return SegmentScan("empty", [], 0, size, "no segment header")
            magic, window, crc = SEGMENT_HEADER.unpack(head)
            if magic != MAGIC or zlib.crc32(head[:12]) != crc:
                return SegmentScan("corrupt", [], 0, size, "bad segment header")
            return _scan_records(file.fileno(), size, size - window, codec)
    except OSError as exc:
        return SegmentScan("corrupt", [], 0, size, f"read error {exc.strerror}")


def _scan_records(fd: int, size: int, tail: int, codec: Codec) -> SegmentScan:
    records: list[ScannedRecord] = []
    offset = SEGMENT_HEADER.size
    while offset < size:
        record, problem, torn = _read_record(fd, offset, size, tail, codec)
        if record is None:
            status: Literal["torn", "corrupt"] = "torn" if torn or offset >= tail else "corrupt"
            return SegmentScan(status, records, offset, size, f"{problem} at offset {offset}")
        records.append(record)
        offset = record.end
    return SegmentScan("ok", records, offset, size, "")


def _read_record(
    fd: int, offset: int, size: int, tail: int, codec: Codec
) -> tuple[ScannedRecord | None, str, bool]:
    """The record at `offset`, or (None, the problem, whether it looks like a torn write)."""
    block = os.pread(fd, _PROBE, offset)
    if len(block) < HEADER_LEN:
        return None, "short header", True
    crc, kind, meta_len, content_len, content_crc = RECORD_HEADER.unpack_from(block)
    meta_end, end = HEADER_LEN + meta_len, offset + HEADER_LEN + meta_len + content_len
    if kind not in (PUT, STATE, REMOVE) or meta_len > _MAX_META or (kind != PUT and content_len):
        return None, "bad header", _unwritten(block[:HEADER_LEN], offset)
    if len(block) < meta_end:
        block += os.pread(fd, meta_end - len(block), offset + len(block))
    if len(block) < meta_end or end > size:
        return None, "cut short", True
    if zlib.crc32(memoryview(block)[4:meta_end]) != crc:
        torn = end == size or _unwritten(block[:HEADER_LEN], offset)
        return None, "metadata checksum mismatch", torn
    if offset >= tail or end == size:
        content = os.pread(fd, content_len, offset + meta_end)
        if zlib.crc32(content) != content_crc:
            return None, "content checksum mismatch", True
    try:
        queue_id, due, lo, hi = codec.head(kind, block[HEADER_LEN:meta_end])
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None, "undecodable metadata", end == size
    return ScannedRecord(offset, kind, queue_id, meta_len, content_len, due, lo, hi), "", False


def _unwritten(header: bytes, offset: int) -> bool:
    """All zeros, or zeros on one side of a page boundary: a header that never hit the disk."""
    cut = -offset % _PAGE
    parts = (header[:cut], header[cut:]) if 0 < cut < HEADER_LEN else (header,)
    return any(not part.strip(b"\0") for part in parts)


def repair_segment(path: Path, scan: SegmentScan, quarantine: Path, *, last: bool) -> bool:
    """Act on a segment's scan (cut a torn tail, quarantine, drop an empty file); returns
    whether its records may be replayed."""
    detail = f"segment={path.name} detail={scan.detail!r}"
    if scan.status == "empty":
        log.info("event=spool_empty_segment_removed %s", detail)
        path.unlink()
    elif scan.status == "corrupt":
        target = quarantine / path.name
        if target.exists():
            target = target.with_name(f"{path.name}.{time.time_ns()}")
        os.replace(path, target)
        fsync_dir(path.parent)
        log.error("event=spool_quarantine %s records_lost=%d", detail, len(scan.records))
    elif scan.status == "torn":
        cut = scan.size - scan.valid_end
        level = logging.INFO if last else logging.WARNING
        log.log(level, "event=spool_torn_tail %s cut_bytes=%d", detail, cut)
        with path.open("r+b") as file:
            file.truncate(scan.valid_end)
            os.fsync(file.fileno())
    return scan.status in ("ok", "torn")
