"""sd_notify: address parsing, watchdog interval, and datagrams on a real AF_UNIX socket."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from mta.server.notify import Notifier, socket_address, watchdog_interval


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/run/systemd/notify", "/run/systemd/notify"),
        ("@scaisend-notify", "\0scaisend-notify"),
        ("", None),
        ("vsock:2:1234", None),
        ("relative/path", None),
    ],
)
def test_socket_address(value: str, expected: str | None) -> None:
    assert socket_address(value) == expected


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, None),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "junk"}, None),
        ({"WATCHDOG_USEC": "30000000"}, 15.0),
        ({"WATCHDOG_USEC": "200000", "WATCHDOG_PID": "42"}, 0.1),
        ({"WATCHDOG_USEC": "200000", "WATCHDOG_PID": "43"}, None),
    ],
)
def test_watchdog_interval(environ: dict[str, str], expected: float | None) -> None:
    assert watchdog_interval(environ, 42) == expected


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    path = str(tmp_path / "n.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(path)
        sock.settimeout(5)
        yield sock, path


def test_without_notify_socket_everything_is_a_no_op() -> None:
    notifier = Notifier.from_environ({"WATCHDOG_USEC": "1000"})
    assert notifier.address is None and notifier.watchdog is None
    assert not notifier.ready() and not notifier.stopping() and not notifier.reloading()
    asyncio.run(asyncio.wait_for(notifier.run_watchdog(), 5))  # returns at once


def test_states_arrive_as_datagrams(listener: tuple[socket.socket, str]) -> None:
    sock, path = listener
    notifier = Notifier.from_environ({"NOTIFY_SOCKET": path})
    assert notifier.ready()
    assert sock.recv(4096) == b"READY=1\nSTATUS=running"
    assert notifier.reloading()
    lines = sock.recv(4096).decode().split("\n")
    assert lines[0] == "RELOADING=1" and lines[1].startswith("MONOTONIC_USEC=")
    assert notifier.stopping()
    assert sock.recv(4096) == b"STOPPING=1\nSTATUS=stopping"


def test_abstract_namespace_socket() -> None:
    name = f"scaisend-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(5)
        assert Notifier.from_environ({"NOTIFY_SOCKET": "@" + name}).notify("READY=1")
        assert sock.recv(4096) == b"READY=1"


def test_a_missing_socket_is_reported_not_raised(tmp_path: Path) -> None:
    assert not Notifier(str(tmp_path / "gone.sock")).ready()


def test_watchdog_pings_from_the_event_loop(listener: tuple[socket.socket, str]) -> None:
    sock, path = listener
    environ = {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "20000"}
    notifier = Notifier.from_environ(environ)
    assert notifier.watchdog == 0.01

    async def two_pings() -> list[bytes]:
        task = asyncio.create_task(notifier.run_watchdog())
        loop = asyncio.get_running_loop()
        pings = [await loop.run_in_executor(None, sock.recv, 4096) for _ in range(2)]
        task.cancel()
        return pings

    assert asyncio.run(asyncio.wait_for(two_pings(), 10)) == [b"WATCHDOG=1", b"WATCHDOG=1"]


def test_a_receiver_that_stops_reading_never_blocks_the_sender(
    listener: tuple[socket.socket, str],
) -> None:
    _, path = listener
    notifier = Notifier(path)
    sent: list[bool] = []
    sender = threading.Thread(
        target=lambda: sent.extend(notifier.notify("WATCHDOG=1") for _ in range(5_000)),
        daemon=True,  # far more datagrams than the receiver queues
    )
    sender.start()
    sender.join(timeout=30)
    assert not sender.is_alive(), "notify() blocked on a full receiver"
    assert sent[0] and not sent[-1]
