"""Turns at writing: a node's busy writers (each worker's event bus and webhook outbox) write
one at a time and in order of arrival, instead of racing in SQLite's busy wait.

SQLite lets one writer in and makes the others poll, sleeping up to 100 ms between tries, so
under load one writer can lose to the others for seconds. A turn is an asyncio lock within
the process and, on SQLite, an exclusive flock on a file beside the database across the
node's processes: the kernel wakes the next waiter the moment the holder lets go. A turn
only orders writers (SQLite's own lock still guards the data), so a writer that cannot get
the file lock within `wait_limit` goes ahead without it and takes its chance in SQLite.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import threading
from collections.abc import AsyncIterator
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)
WAIT_LIMIT_SECONDS = 5.0  # as long as SQLite's busy_timeout


class WriteTurns:
    def __init__(self, lock_file: Path | None = None, wait_limit: float = WAIT_LIMIT_SECONDS):
        self._local = asyncio.Lock()
        self._lock_file = lock_file
        self._wait_limit = wait_limit
        self._fd: int | None = None

    @property
    def lock_file(self) -> Path | None:
        return self._lock_file

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Hold the turn for one write transaction."""
        async with self._local:
            fd = await self._take_file()
            try:
                yield
            finally:
                if fd is not None:
                    fcntl.flock(fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    async def _take_file(self) -> int | None:
        """The file lock's descriptor once held; None without a file or after `wait_limit`."""
        if self._lock_file is None:
            return None
        if self._fd is None:
            self._fd = os.open(self._lock_file, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fd = self._fd
        with contextlib.suppress(BlockingIOError):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        taken = _flock_in_thread(fd)
        try:
            await asyncio.wait_for(asyncio.shield(taken), self._wait_limit)
        except TimeoutError:
            log.warning("event=write_turn_slow waited=%.1f", self._wait_limit)
            taken.add_done_callback(lambda _: fcntl.flock(fd, fcntl.LOCK_UN))
            return None
        except asyncio.CancelledError:  # the lock, once the thread has it, is let go at once
            taken.add_done_callback(lambda _: fcntl.flock(fd, fcntl.LOCK_UN))
            raise
        return fd


def _flock_in_thread(fd: int) -> asyncio.Future[None]:
    """A blocking flock in a daemon thread (it must never hold up the process's exit)."""
    loop = asyncio.get_running_loop()
    taken: asyncio.Future[None] = loop.create_future()

    def wait() -> None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:  # the descriptor was closed meanwhile (close() at stop)
            return
        try:
            loop.call_soon_threadsafe(taken.set_result, None)
        except RuntimeError:  # the loop is closed: nobody waits for this turn any more
            fcntl.flock(fd, fcntl.LOCK_UN)

    threading.Thread(target=wait, name="write-turn", daemon=True).start()
    return taken


def write_turns_for(engine: AsyncEngine) -> WriteTurns:
    """Turns for this engine: across processes for an SQLite file, within the process else."""
    url = engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return WriteTurns()
    return WriteTurns(Path(f"{url.database}-writers.lock"))
