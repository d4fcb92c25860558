"""The scheduler's background work: tasks kept referenced until they end, waited for (for a
while) and cancelled when the scheduler stops."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any


class Tasks:
    def __init__(self) -> None:
        self._running: set[asyncio.Task[None]] = set()

    def __bool__(self) -> bool:
        return bool(self._running)

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def finish(self, timeout: float) -> None:
        """Let the tasks end by themselves for up to `timeout` seconds, then cancel the rest.
        Part of the process's shutdown grace, so real seconds, as in the process layer."""
        if self._running:
            await asyncio.wait(self._running, timeout=timeout)
        await self.cancel()

    async def cancel(self) -> None:
        for task in list(self._running):
            task.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)
