"""A datagram socket standing in for systemd's NOTIFY_SOCKET, and reading the states a server
(or the workers' supervisor) sends to it."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def notify_socket_at(
    path: Path, monkeypatch: pytest.MonkeyPatch, watchdog_usec: int | None = None
) -> Iterator[socket.socket]:
    """Bound at `path` and named in the environment the server is started with."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        sock.settimeout(1)
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        if watchdog_usec is not None:
            monkeypatch.setenv("WATCHDOG_USEC", str(watchdog_usec))
        yield sock


def wait_state(sock: socket.socket, state: str, timeout: float = 30.0) -> list[str]:
    """Read datagrams until one carries `state`; every line seen so far."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    for _ in range(10_000):
        if time.monotonic() > deadline:
            break
        try:
            seen.extend(sock.recv(4096).decode().split("\n"))
        except TimeoutError:
            continue
        if state in seen:
            return seen
    raise AssertionError(f"{state} not received; got {seen[-20:]}")
