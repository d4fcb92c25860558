"""Process plumbing the Application runs on: listening sockets (shared by workers through
SO_REUSEPORT), uvicorn embedded in our loop, waiting for open SMTP sessions at a stop, and
making sure a stopped process ends."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import socket
import time
from collections.abc import Iterator

import uvicorn

from config.checks import parse_hostport
from mta.listeners.aiosmtpd_private import SESSION_COROUTINE
from mta.server.workers import WorkerLayout


class EmbeddedUvicorn(uvicorn.Server):
    """uvicorn on our loop; signals belong to the process, not to uvicorn."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def stop_leftover_tasks(grace: float) -> list[str]:
    """Cancel the tasks still running once the Application has stopped and wait up to
    `grace` seconds for them; the ones that did not end, named. One that ignores its
    cancellation would otherwise keep the process (and its spool lock) alive for ever:
    asyncio's runner waits for every task before it lets the process exit."""
    current = asyncio.current_task()
    left = [task for task in asyncio.all_tasks() if task is not current]
    for task in left:
        task.cancel()
    if not left:
        return []
    _done, pending = await asyncio.wait(left, timeout=grace)
    return sorted(f"{task.get_name()} ({task.get_coro()!r})" for task in pending)


def settle_heap() -> None:
    """Leave what start-up built out of the garbage collector's full passes: a full pass over
    the whole heap (SQLAlchemy, Litestar, the models) held the loop 50 to 110 ms each time."""
    gc.collect()
    gc.freeze()


def listen_socket(listen: str, reuse_port: bool = False) -> socket.socket:
    host, port = parse_hostport(listen)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:  # workers: the kernel spreads the connections over every socket
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


def smtp_sessions() -> int:
    """SMTP sessions running on this loop. aiosmtpd runs each in a task of its own; neither
    asyncio (before 3.12) nor uvloop lets a closed server wait for its connections."""
    coroutines = (task.get_coro() for task in asyncio.all_tasks())
    return sum(getattr(c, "__qualname__", "").endswith(SESSION_COROUTINE) for c in coroutines)


async def drain_smtp_sessions(grace: float) -> int:
    """Wait up to `grace` seconds for the open SMTP sessions to end; how many are left."""
    deadline = time.monotonic() + grace
    while (left := smtp_sessions()) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return left


def unix_sockets(layout: WorkerLayout) -> list[socket.socket]:
    """The worker's own listening Unix socket (none for the single process), readable by
    the service's user only; a stale file of an earlier run is replaced."""
    if layout.socket is None:
        return []
    path = layout.socket
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(str(path))
    except OSError as exc:  # most likely a data_dir path too long for AF_UNIX (107 bytes)
        sock.close()
        raise OSError(f"cannot listen on {path}: {exc}") from exc
    os.chmod(path, 0o600)
    sock.listen(128)
    sock.setblocking(False)
    return [sock]
