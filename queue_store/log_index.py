"""The spool log's in-memory index: where each queued message's PUT record and latest state
live (`Slot`), per-segment live counts (`SegmentInfo`), and `LogIndex`, built by replaying
the records; a few hundred bytes per queued message."""

from __future__ import annotations

import collections
import logging
from collections.abc import Iterable
from typing import NamedTuple

from queue_store.records import HEADER_LEN, PUT, STATE

log = logging.getLogger(__name__)


class Location(NamedTuple):
    put_seg: int
    put_off: int
    meta_len: int
    content_len: int
    state_seg: int
    state_off: int
    state_len: int  # 0: the latest state is the one inside the PUT record
    due: float | None


class Slot:
    """Where one queued message lives: its PUT record and its latest state record."""

    __slots__ = (
        "content_len", "due", "first_seg", "meta_len", "put_off", "put_seg", "state_len",
        "state_off", "state_seg",
    )  # fmt: skip

    def __init__(
        self, seg: int, off: int, meta_len: int, content_len: int, due: float | None, first: int
    ) -> None:
        self.put_seg, self.put_off, self.state_seg, self.state_off = seg, off, seg, off
        self.meta_len, self.content_len, self.state_len = meta_len, content_len, 0
        self.due = due
        self.first_seg = first  # earliest segment that may hold a copy of the PUT

    def location(self) -> Location:
        return Location(
            self.put_seg, self.put_off, self.meta_len, self.content_len, self.state_seg,
            self.state_off, self.state_len, self.due,
        )  # fmt: skip


class SegmentInfo:
    """What is still live in one segment, and the tombstones it holds."""

    __slots__ = ("compacted", "live_bytes", "live_records", "size", "tombs")

    def __init__(self, size: int) -> None:
        self.size = size
        self.live_records = 0
        self.live_bytes = 0
        self.tombs: collections.Counter[tuple[int, int]] = collections.Counter()
        self.compacted = False  # its needed tombstones were copied forward


def tomb_needed(lo: int, hi: int, holder: int, existing: Iterable[int]) -> bool:
    """A tombstone matters while another segment in its range may still hold the PUT."""
    top = min(hi, holder)
    return any(lo <= s <= top and s != holder for s in existing)


class LogIndex:
    """queue id → Slot, plus per-segment liveness; updated in log order (replay or commit)."""

    def __init__(self) -> None:
        self.slots: dict[str, Slot] = {}
        self.segments: dict[int, SegmentInfo] = {}
        self.emptied = False  # some segment lost its last live record since the last GC

    def apply(
        self, seg: int, off: int, kind: int, queue_id: str, meta_len: int, content_len: int,
        due: float | None, lo: int, hi: int,
    ) -> None:  # fmt: skip
        """Account for one committed (or replayed) record at `off` in segment `seg`."""
        if kind == PUT:
            self.put(queue_id, seg, off, meta_len, content_len, due)
        elif kind == STATE:
            self.state(queue_id, seg, off, meta_len, due)
        else:
            self.remove(queue_id, seg, lo, hi)

    def put(
        self, queue_id: str, seg: int, off: int, meta_len: int, content_len: int, due: float | None
    ) -> None:
        old = self.slots.get(queue_id)
        first = seg
        if old is not None:
            first = min(old.first_seg, seg)
            self._release(old)
        self.slots[queue_id] = Slot(seg, off, meta_len, content_len, due, first)
        self._hold(seg, HEADER_LEN + meta_len + content_len)

    def state(self, queue_id: str, seg: int, off: int, meta_len: int, due: float | None) -> None:
        slot = self.slots.get(queue_id)
        if slot is None:  # an orphan: the message is gone
            return
        if slot.state_len:
            self._drop(slot.state_seg, HEADER_LEN + slot.state_len)
        slot.state_seg, slot.state_off, slot.state_len, slot.due = seg, off, meta_len, due
        self._hold(seg, HEADER_LEN + meta_len)

    def remove(self, queue_id: str, seg: int, lo: int, hi: int) -> None:
        slot = self.slots.pop(queue_id, None)
        if slot is not None:
            self._release(slot)
        self.segments[seg].tombs[(lo, hi)] += 1

    def _release(self, slot: Slot) -> None:
        self._drop(slot.put_seg, HEADER_LEN + slot.meta_len + slot.content_len)
        if slot.state_len:
            self._drop(slot.state_seg, HEADER_LEN + slot.state_len)

    def _hold(self, seg: int, nbytes: int) -> None:
        info = self.segments[seg]
        info.live_records += 1
        info.live_bytes += nbytes

    def _drop(self, seg: int, nbytes: int) -> None:
        info = self.segments[seg]
        info.live_records -= 1
        info.live_bytes -= nbytes
        self.emptied = self.emptied or info.live_records == 0

    def add_segment(self, n: int, size: int) -> None:
        self.segments[n] = SegmentInfo(size)

    def deletable(self, active: int) -> list[int]:
        """Segments other than `active` with nothing live and no tombstone still needed."""
        return [
            n
            for n, info in self.segments.items()
            if n != active
            and not info.live_records
            and (info.compacted or not any(tomb_needed(*r, n, self.segments) for r in info.tombs))
        ]

    def sparse(self, active: int, max_live_ratio: float) -> list[int]:
        return [
            n
            for n, info in sorted(self.segments.items())
            if n != active and info.live_bytes <= max_live_ratio * info.size
        ]

    def pending(self) -> dict[str, float]:
        return {q: s.due for q, s in self.slots.items() if s.due is not None}
