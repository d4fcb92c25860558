"""A Clock for tests: time stands still until the test calls `advance`, which moves it on and
fires every timer due on the way, in order, each at its own time, on the running loop. Also
the waits such a test still makes: for the loop's own work, and (bounded) for real I/O."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable

START = 1_700_000_000.0  # 2023-11-14T22:13:20Z
SETTLE_ROUNDS = 20  # loop iterations given to what a fired timer woke, before time moves on


class FakeClock:
    """Wall and monotonic time are one value here: both move only in `advance`."""

    def __init__(self, start: float = START) -> None:
        self._now = start
        self._timers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()  # timers due at one time fire as they were armed

    def time(self) -> float:
        return self._now

    def monotonic(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        await self._timer(seconds)

    async def wait_for(self, event: asyncio.Event, timeout: float | None) -> bool:
        if event.is_set():
            return True
        if timeout is None:
            await event.wait()
            return True
        if timeout <= 0:
            return False
        timer, waiter = self._timer(timeout), asyncio.ensure_future(event.wait())
        try:
            await asyncio.wait({timer, waiter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            timer.cancel()
            waiter.cancel()
        return event.is_set()

    def pending(self) -> list[float]:
        """When the armed timers are due, soonest first."""
        return sorted(due for due, _, future in self._timers if not future.done())

    async def advance(self, seconds: float) -> None:
        """Move time on by `seconds`. Each timer due meanwhile fires at its own time, and the
        loop runs what it woke (which may arm further timers) before time moves on. Work
        waiting on real I/O goes on after this returns, at the time reached."""
        await self.advance_to(self._now + seconds)

    async def advance_to(self, when: float) -> None:
        """Move time on to `when` (see `advance`)."""
        await settle()
        while self._timers and self._timers[0][0] <= when:
            due, _, future = heapq.heappop(self._timers)
            if future.done():  # cancelled: its waiter went on without it
                continue
            self._now = max(self._now, due)
            future.set_result(None)
            await settle()
        self._now = max(self._now, when)
        await settle()

    def _timer(self, seconds: float) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._timers, (self._now + seconds, next(self._order), future))
        return future


async def settle() -> None:
    """Let the loop run what is ready now (and what that makes ready), without real waiting."""
    for _ in range(SETTLE_ROUNDS):
        await asyncio.sleep(0)


async def until(done: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait (in real time, at most `timeout` seconds) until `done()`: for work the loop runs
    or real I/O, never for timers on a FakeClock, which only `advance` fires."""
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
