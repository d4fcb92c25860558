"""The log spool: round trips through restarts, group commit, torn tails, quarantine,
segment deletion, compaction, storage failures, a SIGKILLed writer and index memory."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import signal
import subprocess
import sys
import textwrap
import tracemalloc
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from queue_store.entries import QueueEntry, SmtpReply, SpoolUnavailable
from queue_store.log_index import LogIndex
from queue_store.log_spool import LogSpool
from queue_store.records import HEADER_LEN
from tests.support.spool_entries import spool_content as _content
from tests.support.spool_entries import spool_entry as _entry

ROOT = Path(__file__).resolve().parents[3]
REPLY = SmtpReply(code=451, enhanced="4.4.1", text="try later")


def _segments(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.glob("seg-*.log"))


async def _started(directory: Path, **kwargs: object) -> tuple[LogSpool, list[QueueEntry]]:
    spool = LogSpool(directory, **kwargs)  # type: ignore[arg-type]
    entries = list(spool.recover())
    await spool.start()
    return spool, entries


async def _reopen(spool: LogSpool, **kwargs: object) -> tuple[LogSpool, list[QueueEntry]]:
    await spool.stop()
    return await _started(spool.directory, **kwargs)


@pytest.fixture
async def spool(tmp_path: Path) -> AsyncIterator[LogSpool]:
    spool, _ = await _started(tmp_path / "spool")
    yield spool
    await spool.stop()


async def test_put_then_recover_round_trip(spool: LogSpool) -> None:
    entries = [_entry(f"q{i}") for i in range(3)]
    for e in entries:
        await spool.put(e, _content(e.envelope.queue_id))
    assert len(spool) == 3
    assert await spool.load("q1") == entries[1]
    again, recovered = await _reopen(spool)
    assert recovered == entries
    assert len(again) == 3
    await again.stop()


async def test_update_then_recover_gives_new_state(spool: LogSpool) -> None:
    entry = _entry("q1")
    await spool.put(entry, _content("q1"))
    entry.recipients[0].status = "delivered"
    entry.recipients[1].attempts = 1
    entry.recipients[1].next_attempt_at = 1_800_000_000.0
    entry.recipients[1].last_reply = REPLY
    await spool.update(entry)
    assert await spool.load("q1") == entry
    assert spool.pending_index() == {"q1": 1_800_000_000.0}
    again, recovered = await _reopen(spool)
    assert recovered == [entry]
    assert again.pending_index() == {"q1": 1_800_000_000.0}
    await again.stop()


async def test_remove_then_recover_omits_it(spool: LogSpool) -> None:
    kept, gone = _entry("kept"), _entry("gone")
    await spool.put(kept, _content("kept"))
    await spool.put(gone, _content("gone"))
    gone.recipients[0].status = "delivered"
    await spool.update(gone)
    await spool.remove("gone")
    await spool.remove("never-there")  # a no-op
    with pytest.raises(KeyError):
        await spool.load("gone")
    again, recovered = await _reopen(spool)
    assert [e.envelope.queue_id for e in recovered] == ["kept"]
    await again.stop()


async def test_finished_but_not_removed_is_not_recovered_and_is_removed(spool: LogSpool) -> None:
    entry = _entry("done")
    await spool.put(entry, _content("done"))
    for r in entry.recipients:
        r.status = "delivered"
    await spool.update(entry)  # crash before remove(): no recipient may be delivered again
    again, recovered = await _reopen(spool)
    assert recovered == []
    assert len(again) == 0  # start() tombstoned it
    await again.stop()


async def test_content_loads_by_offset_after_restart(spool: LogSpool) -> None:
    sizes = {"a": 10, "b": 70_000, "c": 0, "d": 5_000}
    for queue_id, size in sizes.items():
        await spool.put(_entry(queue_id), _content(queue_id, size))
    again, _ = await _reopen(spool)
    for queue_id, size in sizes.items():
        assert await again.load_content(queue_id) == _content(queue_id, size)
    with pytest.raises(KeyError):
        await again.load_content("zzz")
    with pytest.raises(KeyError):
        await again.update(_entry("zzz"))
    await again.stop()


async def test_pending_index_holds_the_earliest_pending_attempt(spool: LogSpool) -> None:
    early, late, done = _entry("early"), _entry("late"), _entry("done")
    early.recipients[1].next_attempt_at = 50.0
    late.recipients[0].next_attempt_at = 900.0
    late.recipients[1].status = "bounced"
    for e in (early, late, done):
        await spool.put(e, _content(e.envelope.queue_id))
    done.recipients[0].status = done.recipients[1].status = "delivered"
    await spool.update(done)
    assert spool.pending_index() == {"early": 0.0, "late": 900.0}


async def test_a_corrupt_body_is_found_when_it_is_read(tmp_path: Path) -> None:
    spool, _ = await _started(tmp_path / "spool", max_batch_bytes=1_000)
    for i in range(3):
        await spool.put(_entry(f"q{i}"), _content(f"q{i}", 2_000))
    first = spool._index.slots["q0"]
    body_at = first.put_off + HEADER_LEN + first.meta_len + 100
    await spool.stop()
    path = spool.directory / "seg-000001.log"
    data = bytearray(path.read_bytes())
    data[body_at] ^= 0x01  # outside the tail window: replay does not read bodies
    path.write_bytes(bytes(data))
    again, recovered = await _started(spool.directory, max_batch_bytes=1_000)
    assert len(recovered) == 3
    with pytest.raises(SpoolUnavailable):
        await again.load_content("q0")
    assert await again.load_content("q1") == _content("q1", 2_000)
    await again.stop()


async def test_concurrent_puts_share_fdatasyncs(tmp_path: Path) -> None:
    calls: list[int] = []

    def counting(fd: int) -> None:
        calls.append(fd)
        os.fdatasync(fd)

    spool, _ = await _started(tmp_path / "spool", fsync=counting)
    calls.clear()
    await asyncio.gather(*(spool.put(_entry(f"q{i}"), _content(f"q{i}")) for i in range(200)))
    assert len(spool) == 200
    print(f"fdatasyncs for 200 puts: {len(calls)}")
    assert len(calls) <= 10, len(calls)
    again, recovered = await _reopen(spool)
    assert len(recovered) == 200
    await again.stop()


async def test_torn_tail_is_cut_and_puts_continue(spool: LogSpool) -> None:
    for i in range(5):
        await spool.put(_entry(f"q{i}"), _content(f"q{i}"))
    await spool.stop()
    last = spool.directory / _segments(spool.directory)[-1]
    os.truncate(last, last.stat().st_size - 7)  # the last record was being written
    again, recovered = await _started(spool.directory)
    assert [e.envelope.queue_id for e in recovered] == ["q0", "q1", "q2", "q3"]
    await again.put(_entry("q5"), _content("q5"))
    third, recovered = await _reopen(again)
    assert [e.envelope.queue_id for e in recovered] == ["q0", "q1", "q2", "q3", "q5"]
    assert await third.load_content("q5") == _content("q5")
    await third.stop()


@pytest.mark.parametrize(("window", "size"), [(4 << 20, 5_000), (1_000, 50_000)])
async def test_torn_content_pages_in_the_last_batch_are_cut(
    tmp_path: Path, window: int, size: int
) -> None:
    spool, _ = await _started(tmp_path / "spool", max_batch_bytes=window)
    await spool.put(_entry("q0"), _content("q0"))
    await spool.put(_entry("q1"), _content("q1", size))  # with window 1000: a batch of its own
    await spool.stop()
    last = spool.directory / _segments(spool.directory)[-1]
    with last.open("r+b") as file:  # a crash persisted the header but not a body page
        file.seek(-2_000, os.SEEK_END)
        file.write(bytes(1_000))
    again, recovered = await _started(spool.directory, max_batch_bytes=window)
    assert [e.envelope.queue_id for e in recovered] == ["q0"]
    assert not list(spool.quarantine.iterdir())
    await again.stop()


async def test_unwritten_header_of_a_big_last_record_is_a_torn_tail(tmp_path: Path) -> None:
    spool, _ = await _started(tmp_path / "spool", max_batch_bytes=1_000)
    await spool.put(_entry("q0"), _content("q0", 4_000))
    offset = spool.directory.joinpath("seg-000001.log").stat().st_size
    await spool.put(_entry("q1"), _content("q1", 50_000))
    await spool.stop()
    last = spool.directory / "seg-000001.log"
    with last.open("r+b") as file:  # the page holding the header never reached the disk
        file.seek(offset)
        file.write(bytes(4096 - offset % 4096))
    again, recovered = await _started(spool.directory, max_batch_bytes=1_000)
    assert [e.envelope.queue_id for e in recovered] == ["q0"]
    assert not list(spool.quarantine.iterdir())
    await again.stop()


async def test_corrupt_record_quarantines_only_its_segment(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    options: dict[str, object] = {"segment_bytes": 8_000, "max_batch_bytes": 1_000}
    spool, _ = await _started(tmp_path / "spool", **options)
    for i in range(40):
        await spool.put(_entry(f"q{i:02d}"), _content(f"q{i:02d}", 600))
    names = _segments(spool.directory)
    assert len(names) >= 4
    victim = spool.directory / names[1]
    in_victim = {q: s.put_off for q, s in spool._index.slots.items() if s.put_seg == 2}
    middle = sorted(in_victim.values())[len(in_victim) // 2]
    await spool.stop()
    data = bytearray(victim.read_bytes())
    data[middle + HEADER_LEN + 5] ^= 0x40  # inside a middle record's metadata
    victim.write_bytes(bytes(data))
    with caplog.at_level(logging.ERROR):
        again, recovered = await _started(spool.directory, **options)
    assert "event=spool_quarantine segment=seg-000002.log" in caplog.text
    assert (spool.quarantine / names[1]).exists()
    ids = {e.envelope.queue_id for e in recovered}
    assert ids == {f"q{i:02d}" for i in range(40)} - set(in_victim)
    assert len(in_victim) >= 5 and len(ids) >= 25
    await again.put(_entry("new"), _content("new"))
    await again.stop()


async def test_segments_roll_and_fully_removed_ones_are_deleted(tmp_path: Path) -> None:
    spool, _ = await _started(tmp_path / "spool", segment_bytes=2_000)
    for i in range(12):
        await spool.put(_entry(f"q{i:02d}"), _content(f"q{i:02d}", 500))
    first = _segments(spool.directory)
    assert len(first) >= 4
    old = {q for q, s in spool._index.slots.items() if s.put_seg <= 2}
    for queue_id in sorted(old):
        await spool.remove(queue_id)
    await spool.stop()  # deletion follows the commit of the last tombstone
    remaining = _segments(spool.directory)
    assert first[0] not in remaining and first[1] not in remaining
    assert first[2] in remaining
    again, recovered = await _started(spool.directory, segment_bytes=2_000)
    assert {e.envelope.queue_id for e in recovered} == {f"q{i:02d}" for i in range(12)} - old
    await again.stop()


async def test_tombstone_outlives_the_segment_of_its_put_and_compaction_moves_it(
    tmp_path: Path,
) -> None:
    options: dict[str, object] = {"segment_bytes": 30}  # every batch starts a new segment
    spool, _ = await _started(tmp_path / "spool", **options)
    await asyncio.gather(  # one batch: both in segment 1
        spool.put(_entry("w"), _content("w", 5_000)), spool.put(_entry("x"), _content("x", 10))
    )
    await spool.put(_entry("y"), _content("y"))  # segment 2
    await spool.remove("x")  # segment 3 holds only this tombstone
    await spool.put(_entry("z"), _content("z"))  # segment 4
    await spool.stop()
    assert "seg-000003.log" in _segments(spool.directory)  # x's PUT still exists in 1
    again, recovered = await _started(spool.directory, **options)
    assert [e.envelope.queue_id for e in recovered] == ["w", "y", "z"]
    assert await again.compact(max_live_ratio=0.5) == [3]  # the tombstone is copied forward
    assert "seg-000003.log" not in _segments(spool.directory)
    assert "seg-000001.log" in _segments(spool.directory)
    third, recovered = await _reopen(again, **options)
    assert [e.envelope.queue_id for e in recovered] == ["w", "y", "z"]
    await third.stop()


async def test_compaction_moves_live_messages_and_deletes_old_segments(tmp_path: Path) -> None:
    spool, _ = await _started(tmp_path / "spool", segment_bytes=3_000)
    for i in range(20):
        await spool.put(_entry(f"q{i:02d}"), _content(f"q{i:02d}", 400))
    deferred = _entry("q03")
    deferred.recipients[0].status = "delivered"
    deferred.recipients[1].next_attempt_at = 1_900_000_000.0
    await spool.update(deferred)
    keep = {"q03", "q07", "q19"}
    for i in range(20):
        if f"q{i:02d}" not in keep:
            await spool.remove(f"q{i:02d}")
    before = _segments(spool.directory)
    compacted = await spool.compact(max_live_ratio=0.5)
    after = _segments(spool.directory)
    assert compacted and len(after) < len(before)
    assert all(f"seg-{n:06d}.log" not in after for n in compacted)
    assert await spool.load("q03") == deferred
    assert await spool.load_content("q07") == _content("q07", 400)
    again, recovered = await _reopen(spool, segment_bytes=3_000)
    assert {e.envelope.queue_id for e in recovered} == keep
    assert await again.load("q03") == deferred
    assert await again.load_content("q03") == _content("q03", 400)
    await again.stop()


def _fail_once(fn: Callable[..., object], count: int = 1) -> Callable[..., object]:
    left = [count]

    def failing(*args: object) -> object:
        if left[0] > 0:
            left[0] -= 1
            raise OSError(errno.ENOSPC, "No space left on device")
        return fn(*args)

    return failing


@pytest.mark.parametrize("failures", [1, 2])
async def test_fsync_failure_raises_and_the_log_stays_consistent(
    tmp_path: Path, failures: int
) -> None:
    hook: list[Callable[..., object]] = [os.fdatasync]
    spool, _ = await _started(tmp_path / "spool", fsync=lambda fd: hook[0](fd))
    await spool.put(_entry("q0"), _content("q0"))
    hook[0] = _fail_once(os.fdatasync, failures)  # 2: the cut-back fsync fails too → roll
    with pytest.raises(SpoolUnavailable):
        await spool.put(_entry("lost"), _content("lost"))
    await spool.put(_entry("q1"), _content("q1"))
    assert len(_segments(spool.directory)) == failures
    again, recovered = await _reopen(spool)
    # The failed put was never acknowledged; it was cut off (1) or left behind in a
    # segment that is no longer appended to (2), so it may come back: at-least-once.
    ids = [e.envelope.queue_id for e in recovered]
    assert ids == ["q0", "q1"] if failures == 1 else set(ids) >= {"q0", "q1"}
    await again.stop()


async def test_enospc_mid_write_is_truncated_away(tmp_path: Path) -> None:
    broken = [True]

    def pwrite(fd: int, data: memoryview, offset: int) -> int:
        if broken[0] and len(data) > 100:
            broken[0] = False
            os.pwrite(fd, data[: len(data) // 2], offset)
            raise OSError(errno.ENOSPC, "No space left on device")
        return os.pwrite(fd, data, offset)

    spool, _ = await _started(tmp_path / "spool", pwrite=pwrite)
    with pytest.raises(SpoolUnavailable):
        await spool.put(_entry("lost"), _content("lost", 4_000))
    await spool.put(_entry("q1"), _content("q1"))
    again, recovered = await _reopen(spool)
    assert [e.envelope.queue_id for e in recovered] == ["q1"]
    assert await again.load_content("q1") == _content("q1")
    await again.stop()


async def test_writes_after_stop_are_refused(spool: LogSpool) -> None:
    await spool.stop()
    with pytest.raises(SpoolUnavailable):
        await spool.put(_entry("late"), _content("late"))


_CHILD = """
import asyncio, sys
from pathlib import Path
from tests.support.spool_entries import spool_content as _content, spool_entry as _entry
from queue_store.log_spool import LogSpool

async def main():
    spool = LogSpool(Path(sys.argv[1]))
    spool.recover()
    await spool.start()
    async def producer(p):
        for i in range(100_000):
            queue_id = f"p{p}-{i}"
            await spool.put(_entry(queue_id), _content(queue_id, 2_000))
            print(queue_id, flush=True)
    await asyncio.gather(*(producer(p) for p in range(20)))

asyncio.run(main())
"""


def test_sigkilled_writer_loses_no_acknowledged_message(tmp_path: Path) -> None:
    directory = tmp_path / "spool"
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(_CHILD), str(directory)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    acked = [child.stdout.readline() for _ in range(1_500)]
    child.send_signal(signal.SIGKILL)
    acked += child.stdout.readlines()
    child.wait()
    acked_ids = {line.strip() for line in acked if line.endswith("\n")}
    assert len(acked_ids) >= 1_500
    recovered = {e.envelope.queue_id for e in LogSpool(directory).recover()}
    assert acked_ids <= recovered


def test_index_memory_per_message_is_small() -> None:
    index = LogIndex()
    index.add_segment(1, 0)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(100_000):
            queue_id = f"{0x18F00000000 + i:011x}{i * 2654435761 % 2**64:016x}"
            index.put(queue_id, 1, 16 + i * 5_500, 420, 5_000, 1_700_000_000.0 + i)
        per_message = (tracemalloc.get_traced_memory()[0] - before) / 100_000
    finally:
        tracemalloc.stop()
    print(f"index bytes per message: {per_message:.0f}")
    assert per_message < 512, per_message
