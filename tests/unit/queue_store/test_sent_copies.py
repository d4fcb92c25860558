"""Sent mail kept after delivery: dead segments moved aside instead of deleted, found again
by message id and account, ignored by recovery, swept by age and by size."""

from __future__ import annotations

import time
from pathlib import Path

from queue_store.log_spool import LogSpool
from queue_store.sent_copies import SENT_DIR, KeepSent, find_copy, sweep
from tests.support.spool_entries import spool_content, spool_entry

SEGMENT = 2_000  # a few messages per segment


def _names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.glob("seg-*.log"))


async def _spool_with_delivered(directory: Path, *, keep_sent: bool) -> tuple[set[str], set[str]]:
    """Twelve messages over several segments; those of the first two segments delivered
    (removed). (delivered, still queued) queue ids."""
    spool = LogSpool(directory, segment_bytes=SEGMENT, keep_sent=keep_sent)
    list(spool.recover())
    await spool.start()
    for i in range(12):
        await spool.put(spool_entry(f"q{i:02d}"), spool_content(f"q{i:02d}", 500))
    delivered = {q for q, slot in spool._index.slots.items() if slot.put_seg <= 2}
    for queue_id in sorted(delivered):
        await spool.remove(queue_id)
    await spool.stop()  # the dead segments go once the last tombstone is committed
    return delivered, {f"q{i:02d}" for i in range(12)} - delivered


async def test_dead_segments_are_kept_aside_and_found_by_message_id(tmp_path: Path) -> None:
    directory = tmp_path / "spool"
    delivered, queued = await _spool_with_delivered(directory, keep_sent=True)
    assert _names(directory / SENT_DIR) == ["seg-000001.log", "seg-000002.log"]
    assert not {"seg-000001.log", "seg-000002.log"} & set(_names(directory))
    for queue_id in sorted(delivered) + sorted(queued)[:1]:  # delivered, and one still queued
        found = find_copy([directory], queue_id, "acct", 0.0)
        assert found == spool_content(queue_id, 500)
    again = LogSpool(directory, segment_bytes=SEGMENT, keep_sent=True)
    assert {e.envelope.queue_id for e in again.recover()} == queued  # kept ones not replayed


async def test_another_account_or_a_near_id_finds_nothing(tmp_path: Path) -> None:
    directory = tmp_path / "spool"
    delivered, _ = await _spool_with_delivered(directory, keep_sent=True)
    first = min(delivered)
    assert find_copy([directory], first, "someone-else", 0.0) is None
    assert find_copy([directory], first[:-1], "acct", 0.0) is None  # q0 is not q00's id


async def test_copies_of_one_message_share_its_id_as_prefix(tmp_path: Path) -> None:
    spool = LogSpool(tmp_path / "spool")
    list(spool.recover())
    await spool.start()
    await spool.put(spool_entry("msg7-1"), spool_content("msg7-1"))
    await spool.stop()
    assert find_copy([tmp_path / "spool"], "msg7", "acct", 0.0) == spool_content("msg7-1")


async def test_without_keeping_delivered_mail_is_gone(tmp_path: Path) -> None:
    directory = tmp_path / "spool"
    delivered, queued = await _spool_with_delivered(directory, keep_sent=False)
    assert not (directory / SENT_DIR).exists()
    assert all(find_copy([directory], q, "acct", 0.0) is None for q in delivered)
    assert find_copy([directory], min(queued), "acct", 0.0) is not None


async def test_segments_written_before_the_message_are_not_read(tmp_path: Path) -> None:
    directory = tmp_path / "spool"
    delivered, _ = await _spool_with_delivered(directory, keep_sent=True)
    later = time.time() + 60  # a message logged a minute from now cannot be in them
    assert find_copy([directory], min(delivered), "acct", later) is None


async def test_every_workers_spool_is_searched(tmp_path: Path) -> None:
    first, second = tmp_path / "spool", tmp_path / "spool-1"
    await _spool_with_delivered(first, keep_sent=True)
    spool = LogSpool(second, keep_sent=True)
    list(spool.recover())
    await spool.start()
    await spool.put(spool_entry("w1"), spool_content("w1"))
    await spool.remove("w1")
    await spool.stop()
    assert find_copy([first, second], "w1", "acct", 0.0) == spool_content("w1")


async def test_the_sweep_deletes_by_age_then_the_oldest_beyond_the_size(tmp_path: Path) -> None:
    directory = tmp_path / "spool"
    await _spool_with_delivered(directory, keep_sent=True)
    kept = sorted((directory / SENT_DIR).glob("seg-*.log"))
    sizes = [p.stat().st_size for p in kept]
    roomy = KeepSent(seconds=3600, max_bytes=1 << 30)
    assert sweep(directory, roomy, time.time()) == []
    tight = KeepSent(seconds=3600, max_bytes=max(sizes))  # room for one: the newest stays
    newest = max(kept, key=lambda p: p.stat().st_ctime)
    assert len(sweep(directory, tight, time.time())) == 1
    assert [p.name for p in (directory / SENT_DIR).glob("seg-*.log")] == [newest.name]
    assert sweep(directory, roomy, time.time() + 7200) == [int(newest.stem.split("-")[1])]
    assert _names(directory / SENT_DIR) == []


def test_keeping_is_off_when_either_limit_is_zero() -> None:
    assert KeepSent(seconds=3600, max_bytes=1).enabled
    assert not KeepSent(seconds=0, max_bytes=1 << 20).enabled
    assert not KeepSent(seconds=3600, max_bytes=0).enabled
