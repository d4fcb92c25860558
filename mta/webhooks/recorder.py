"""Outcomes of webhook POSTs written in sets: the outcomes that came in while the last write
ran go together in the next one (one statement, one transaction), so the database lock is held
briefly and once for many POSTs. A write that fails is tried again; nothing is dropped."""

from __future__ import annotations

import asyncio
import logging

from mta.core.clock import Clock
from mta.webhooks.outbox import Outbox, Outcome

log = logging.getLogger(__name__)
FAILED_WRITE_PAUSE = 1.0


class Recorder:
    def __init__(self, outbox: Outbox, clock: Clock) -> None:
        self._outbox = outbox
        self._clock = clock
        self._pending: list[Outcome] = []
        self._arrived = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="webhook-recorder")

    def add(self, outcomes: list[Outcome]) -> None:
        self._pending.extend(outcomes)
        self._idle.clear()
        self._arrived.set()

    async def _run(self) -> None:
        while True:
            await self._arrived.wait()
            self._arrived.clear()
            batch, self._pending = self._pending, []
            try:
                await self._outbox.record(batch)
            except Exception:  # kept, and written with the next batch
                log.exception("event=webhook_record_failed rows=%d", len(batch))
                self._pending[:0] = batch
                self._arrived.set()
                await self._clock.sleep(FAILED_WRITE_PAUSE)
                continue
            if not self._pending:
                self._idle.set()

    async def stop(self) -> None:
        """Write what has come in (one last try if the writer is not running), then stop."""
        if self._task is not None and not self._task.done():
            try:
                await asyncio.wait_for(self._idle.wait(), FAILED_WRITE_PAUSE * 5)
            except TimeoutError:
                log.warning("event=webhook_record_unfinished rows=%d", len(self._pending))
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._pending:
            batch, self._pending = self._pending, []
            await self._outbox.record(batch)
