"""Messages waiting for their time: a deferred or scheduled message is a (due time, queue id)
pair on a heap, and one loop hands the due ones on, a batch at a time, when the clock reaches
them. Only the pair is in memory; the message stays in the spool until due."""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Awaitable, Callable

from mta.core.clock import Clock

RETRY_BATCH = 200  # due messages handed on (and loaded from the spool) at once


class DueQueue:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._heap: list[tuple[float, str]] = []
        self._changed = asyncio.Event()  # a sooner time arrived: the loop looks again

    def __len__(self) -> int:
        return len(self._heap)

    def schedule(self, queue_id: str, when: float) -> None:
        """Hand `queue_id` on at `when` (wall-clock Unix seconds)."""
        if not self._heap or when < self._heap[0][0]:
            self._changed.set()
        heapq.heappush(self._heap, (when, queue_id))

    def pop_due(self, now: float) -> list[str]:
        """The queue ids due at `now`, soonest first, at most RETRY_BATCH of them."""
        batch: list[str] = []
        while self._heap and self._heap[0][0] <= now and len(batch) < RETRY_BATCH:
            batch.append(heapq.heappop(self._heap)[1])
        return batch

    async def run(self, hand_on: Callable[[list[str]], Awaitable[None]]) -> None:
        """Until cancelled: wait for the soonest time, then hand on what is due."""
        while True:
            self._changed.clear()
            now = self._clock.time()
            if not self._heap or self._heap[0][0] > now:
                wait = self._heap[0][0] - now if self._heap else None
                await self._clock.wait_for(self._changed, wait)
                continue
            await hand_on(self.pop_due(now))
