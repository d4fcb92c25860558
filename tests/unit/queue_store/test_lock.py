"""The spool lock: exclusive per directory, names the holder, released on release/close."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from queue_store.lock import LOCK_NAME, SpoolLock, SpoolLocked


def test_a_second_lock_on_the_same_spool_is_refused_with_the_holder_pid(tmp_path: Path) -> None:
    first = SpoolLock(tmp_path / "spool")
    first.acquire()
    with pytest.raises(SpoolLocked) as refused:
        SpoolLock(tmp_path / "spool").acquire()
    assert f"process {os.getpid()}" in str(refused.value)
    assert (tmp_path / "spool" / LOCK_NAME).read_text() == f"{os.getpid()}\n"
    first.release()


def test_release_lets_the_next_holder_in(tmp_path: Path) -> None:
    first = SpoolLock(tmp_path)
    first.acquire()
    first.release()
    second = SpoolLock(tmp_path)
    second.acquire()
    assert second.held and not first.held
    second.release()


def test_acquire_twice_is_a_no_op_and_other_directories_are_independent(tmp_path: Path) -> None:
    lock = SpoolLock(tmp_path / "a")
    lock.acquire()
    lock.acquire()
    other = SpoolLock(tmp_path / "b")
    other.acquire()
    assert lock.held and other.held
    lock.release()
    other.release()


def test_a_stale_file_without_a_holder_does_not_block(tmp_path: Path) -> None:
    (tmp_path / LOCK_NAME).write_text("999999\n")
    lock = SpoolLock(tmp_path)
    lock.acquire()
    assert (tmp_path / LOCK_NAME).read_text() == f"{os.getpid()}\n"
    lock.release()


def test_a_holder_that_wrote_no_pid_is_named_anonymously(tmp_path: Path) -> None:
    import fcntl

    fd = os.open(tmp_path / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        with pytest.raises(SpoolLocked, match="another process"):
            SpoolLock(tmp_path).acquire()
    finally:
        os.close(fd)
