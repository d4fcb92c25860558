"""The Clock seam: everything that waits, retries, expires or limits reads time here, so that
tests advance time instead of sleeping. `SystemClock` is the real one; the composition root
makes one and hands it to every part that reads time."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    def time(self) -> float:
        """Wall-clock Unix seconds: timestamps, send_at, and the retry and expiry times kept
        in the spool and the database."""
        ...

    def monotonic(self) -> float:
        """Seconds that never step back: intervals, deadlines and cache lifetimes."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds`."""
        ...

    async def wait_for(self, event: asyncio.Event, timeout: float | None) -> bool:
        """Wait until `event` is set or `timeout` seconds have passed (None: no limit);
        whether the event is set."""
        ...


class SystemClock:
    """The operating system's clocks and the event loop's timers."""

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def wait_for(self, event: asyncio.Event, timeout: float | None) -> bool:
        if event.is_set():
            return True
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            return event.is_set()
        return True
