"""Copies of sent mail kept after delivery: a spool segment with nothing left to deliver is
moved into `sent/` instead of deleted, swept after a set time or beyond a size cap, and
searched by message id for the dashboard's "message as sent"."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import msgspec

from queue_store.records import (
    HEADER_LEN,
    PUT,
    Codec,
    CorruptRecord,
    SegmentReader,
    fsync_dir,
    scan_segment,
    segment_numbers,
    segment_path,
)

log = logging.getLogger(__name__)

SENT_DIR = "sent"
CLOCK_SLACK_SECONDS = 2.0  # a message's log time and its spool write differ by this at most
MAX_SEGMENTS_SEARCHED = 3  # per spool directory: what one look-up reads at most (~35 ms each)
_READ_ERRORS = (OSError, CorruptRecord, msgspec.DecodeError, msgspec.ValidationError)


class KeepSent(msgspec.Struct, frozen=True):
    """How long and how much sent mail is kept; seconds 0: none (segments deleted)."""

    seconds: float
    max_bytes: int

    @property
    def enabled(self) -> bool:
        return self.seconds > 0 and self.max_bytes > 0


def retire(directory: Path, segments: list[int]) -> None:
    """Move dead segments into directory/sent/. The move sets each file's change time,
    which the sweep counts from; its modification time stays that of its last write."""
    sent = directory / SENT_DIR
    sent.mkdir(mode=0o700, exist_ok=True)
    for n in segments:
        try:
            os.rename(segment_path(directory, n), segment_path(sent, n))
        except FileNotFoundError:
            continue
    fsync_dir(sent)
    fsync_dir(directory)


def sweep(directory: Path, keep: KeepSent, now: float) -> list[int]:
    """Delete kept segments older than keep.seconds, then the oldest beyond keep.max_bytes;
    the numbers deleted."""
    sent = directory / SENT_DIR
    if not sent.is_dir():
        return []
    kept = sorted(_kept_files(sent), key=lambda item: item[1].st_ctime, reverse=True)
    total, gone = 0, []
    for n, stat in kept:  # newest first
        total += stat.st_size
        if now - stat.st_ctime > keep.seconds or total > keep.max_bytes:
            segment_path(sent, n).unlink(missing_ok=True)
            gone.append(n)
    if gone:
        fsync_dir(sent)
    return sorted(gone)


def _kept_files(sent: Path) -> Iterator[tuple[int, os.stat_result]]:
    for n in segment_numbers(sent):
        try:
            yield n, segment_path(sent, n).stat()
        except FileNotFoundError:
            continue


def find_copy(
    directories: list[Path], message_id: str, account_id: str, written_after: float
) -> bytes | None:
    """The content of one spooled copy of `message_id` (queue id the message id or
    `<message id>-<n>`) of the account, from the live or kept segments written to since
    `written_after` (the message's log time); None when none is left. Reads files only,
    so it works for every worker's spool; call it off the event loop."""
    codec = Codec()
    for directory in directories:
        for folder, n in _candidates(directory, written_after - CLOCK_SLACK_SECONDS):
            try:
                found = _copy_in(folder, n, message_id, account_id, codec)
            except _READ_ERRORS as exc:
                log.warning("event=sent_copy_unreadable segment=%s error=%r", n, str(exc))
                continue
            if found is not None:
                return found
    return None


def _candidates(directory: Path, since: float) -> list[tuple[Path, int]]:
    """The first segments (live or kept) last written at or after `since`, oldest first:
    the message's PUT is in the one that was being appended to when it was spooled."""
    found = []
    for folder in (directory / SENT_DIR, directory):
        if not folder.is_dir():
            continue
        for n in segment_numbers(folder):
            try:
                written = segment_path(folder, n).stat().st_mtime
            except FileNotFoundError:
                continue
            if written >= since:
                found.append((n, folder))
    return [(folder, n) for n, folder in sorted(found)[:MAX_SEGMENTS_SEARCHED]]


def _copy_in(folder: Path, n: int, message_id: str, account_id: str, codec: Codec) -> bytes | None:
    prefix = message_id + "-"
    scan = scan_segment(segment_path(folder, n), codec)
    reader = SegmentReader(folder, keep_open=True)
    try:
        for record in scan.records:
            if record.kind != PUT:
                continue
            if record.queue_id != message_id and not record.queue_id.startswith(prefix):
                continue
            length = HEADER_LEN + record.meta_len + record.content_len
            meta, content = reader.record(n, record.offset, length, content=True)
            if codec.entry(meta, None).envelope.account_id == account_id:
                return content
    finally:
        reader.close()
    return None
