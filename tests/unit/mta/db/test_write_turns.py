"""Write turns: one writer at a time within a process and, on an SQLite file, across the
node's processes (a real second process holds the file lock); a turn that waits too long goes
ahead, and a cancelled wait never leaves the lock held."""

from __future__ import annotations

import asyncio
import fcntl
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from mta.db.write_turns import WriteTurns, write_turns_for

HOLDER = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
sys.stdin.readline()  # the test says when to let go
print(time.time(), flush=True)
fcntl.flock(fd, fcntl.LOCK_UN)
time.sleep(30)
"""


class Holder:
    """Another process holding the lock file until told to let go."""

    def __init__(self, path: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None and self.process.stdout.readline() == "held\n"

    def let_go(self) -> float:
        """Tell it to let go; when it did (its clock, just before the unlock)."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write("\n")
        self.process.stdin.flush()
        return float(self.process.stdout.readline())


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[Holder]:
    found = Holder(tmp_path / "db-writers.lock")
    yield found
    found.process.kill()
    found.process.wait()


def is_free(path: Path) -> bool:
    """Whether another open file could take the lock now."""
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # closing lets go of it
    return True


def waiting_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "write-turn"]


async def eventually_free(path: Path, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if is_free(path):
            return True
        await asyncio.sleep(0.02)
    return False


async def test_writers_in_one_process_take_turns_in_order_of_arrival(tmp_path: Path) -> None:
    turns, spans = WriteTurns(tmp_path / "db-writers.lock"), []

    async def write(name: str) -> None:
        async with turns.turn():
            spans.append((name, "in"))
            await asyncio.sleep(0.01)
            spans.append((name, "out"))

    await asyncio.gather(*(write(f"w{i}") for i in range(4)))
    expected = [(f"w{i}", side) for i in range(4) for side in ("in", "out")]
    assert spans == expected
    assert is_free(tmp_path / "db-writers.lock")


async def test_a_turn_waits_for_another_process_and_starts_once_it_lets_go(
    tmp_path: Path, holder: Holder
) -> None:
    turns = WriteTurns(tmp_path / "db-writers.lock")
    entered: list[float] = []

    async def write() -> None:
        async with turns.turn():
            entered.append(time.time())
            assert not is_free(tmp_path / "db-writers.lock")  # held by this turn now

    writing = asyncio.create_task(write())
    await asyncio.sleep(0.3)
    assert not entered  # still waiting for the other process
    released = holder.let_go()
    await asyncio.wait_for(writing, 10)
    assert entered[0] >= released
    assert is_free(tmp_path / "db-writers.lock")
    turns.close()


async def test_a_turn_goes_ahead_without_the_file_after_the_wait_limit(
    tmp_path: Path, holder: Holder, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "db-writers.lock"
    turns = WriteTurns(path, wait_limit=0.2)
    async with turns.turn():
        assert holder.process.poll() is None and not is_free(path)  # the other still holds it
    assert "event=write_turn_slow" in caplog.text
    holder.let_go()
    # The wait left behind takes the lock when the other lets go, and lets go of it at once.
    assert await eventually_free(path)


def test_a_wait_left_behind_lets_go_when_its_loop_has_closed(
    tmp_path: Path, holder: Holder
) -> None:
    path = tmp_path / "db-writers.lock"
    turns = WriteTurns(path, wait_limit=0.1)

    async def write() -> None:
        async with turns.turn():
            pass

    asyncio.run(write())  # went ahead without the file; its wait goes on, the loop is gone
    holder.let_go()
    # Once the waiting thread has taken the lock and ended (a check before could win the
    # lock from it), the lock must be free: it found no loop to tell, and let go.
    deadline = time.monotonic() + 10
    while waiting_threads() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not waiting_threads()
    assert is_free(path)
    turns.close()


async def test_a_cancelled_wait_never_leaves_the_lock_held(tmp_path: Path, holder: Holder) -> None:
    path = tmp_path / "db-writers.lock"
    turns = WriteTurns(path)

    async def write() -> None:
        async with turns.turn():
            raise AssertionError("a cancelled turn must not start")

    writing = asyncio.create_task(write())
    await asyncio.sleep(0.2)
    writing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await writing
    holder.let_go()
    assert await eventually_free(path)
    async with turns.turn():  # and the next turn is had as usual
        assert not is_free(path)


@pytest.mark.parametrize(
    ("url", "lock_file"),
    [
        ("sqlite+aiosqlite:///{dir}/scaisend.db", "{dir}/scaisend.db-writers.lock"),
        ("sqlite+aiosqlite://", None),
        ("sqlite+aiosqlite:///:memory:", None),
        ("postgresql+asyncpg://u@127.0.0.1:1/db", None),
    ],
)
def test_only_an_sqlite_file_gets_a_lock_file(
    tmp_path: Path, url: str, lock_file: str | None
) -> None:
    engine = create_async_engine(url.format(dir=tmp_path))
    turns = write_turns_for(engine)
    expected = None if lock_file is None else Path(lock_file.format(dir=tmp_path))
    assert turns.lock_file == expected
