"""sd_notify(3) without libsystemd: state datagrams (READY=1, STOPPING=1, RELOADING=1,
WATCHDOG=1) to $NOTIFY_SOCKET, and the watchdog task; every call is a no-op without it."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Mapping

log = logging.getLogger(__name__)


def socket_address(value: str) -> str | None:
    """$NOTIFY_SOCKET as a connectable AF_UNIX address; "@name" is the abstract namespace."""
    if value.startswith("@"):
        return "\0" + value[1:]
    if value.startswith("/"):
        return value
    return None  # vsock and other forms are not for us


def watchdog_interval(environ: Mapping[str, str], pid: int) -> float | None:
    """Seconds between WATCHDOG=1 pings (half of WATCHDOG_USEC), or None when the service
    manager asked for none or asked another process (WATCHDOG_PID)."""
    usec = environ.get("WATCHDOG_USEC", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    owner = environ.get("WATCHDOG_PID", "")
    if owner and owner != str(pid):
        return None
    return int(usec) / 2_000_000


class Notifier:
    """Tells the service manager about the process's state."""

    def __init__(self, address: str | None, watchdog: float | None = None) -> None:
        self.address = address
        self.watchdog = watchdog

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Notifier:
        env = os.environ if environ is None else environ
        address = socket_address(env.get("NOTIFY_SOCKET", ""))
        return cls(address, watchdog_interval(env, os.getpid()) if address else None)

    def notify(self, *states: str) -> bool:
        """Send "KEY=value" lines in one datagram; False when not sent (never raises)."""
        if self.address is None:
            return False
        payload = "\n".join(states).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.setblocking(False)  # a full receiver must never stall the event loop
                sock.sendto(payload, self.address)
        except BlockingIOError:  # the service manager is behind: this one is dropped
            log.debug("event=sd_notify_dropped")
            return False
        except OSError as exc:
            log.warning("event=sd_notify_failed error=%r", str(exc))
            return False
        return True

    def ready(self) -> bool:
        return self.notify("READY=1", "STATUS=running")

    def stopping(self) -> bool:
        return self.notify("STOPPING=1", "STATUS=stopping")

    def reloading(self) -> bool:
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.notify("RELOADING=1", f"MONOTONIC_USEC={usec}")

    async def run_watchdog(self) -> None:
        """Ping every half WATCHDOG_USEC from the event loop, so a stuck loop misses pings
        and the service manager restarts us; returns at once when no watchdog is set."""
        if self.watchdog is None:
            return
        while True:
            self.notify("WATCHDOG=1")
            await asyncio.sleep(self.watchdog)
