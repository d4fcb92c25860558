"""The spool lock: one `scaisend serve` per spool directory, held with flock(2) on a file in
the spool for the process lifetime; the holder's pid is written into it for the error."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

LOCK_NAME = "scaisend.lock"


class SpoolLocked(Exception):
    """Another process holds the spool; its message names the holder's pid when known."""


class SpoolLock:
    """An exclusive, non-blocking flock; the kernel drops it when the process dies."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / LOCK_NAME
        self._fd = -1

    @property
    def held(self) -> bool:
        return self._fd >= 0

    def acquire(self) -> None:
        """Take the lock or raise SpoolLocked at once; taking it twice is a no-op."""
        if self.held:
            return
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            who = f"process {holder}" if holder else "another process"
            raise SpoolLocked(
                f"spool {self.path.parent} is in use by {who} (lock file {self.path})"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        """Drop the lock; the file stays, so that the next holder locks the same inode."""
        if not self.held:
            return
        fd, self._fd = self._fd, -1
        os.ftruncate(fd, 0)
        os.close(fd)  # closing the last descriptor releases the flock


def _read_pid(fd: int) -> int | None:
    text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    return int(text) if text.isdigit() else None
