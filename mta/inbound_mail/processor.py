"""The inbound processor: one task per worker draining the inbound spool in batches through
InboundService.process, and forgetting a batch only once its results are in the database.
A batch that fails is retried one message at a time; a message that keeps failing while
others succeed is dropped (logged) so that it cannot stop the rest."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from mta.inbound_mail.inbound_spool import InboundSpool, Received

log = logging.getLogger(__name__)
BATCH = 200  # messages per batch: one classification hop, one look-up, one bus write
IDLE_POLL_SECONDS = 0.05  # how soon a message put while the processor is idle is taken
MAX_FAILURES = 5  # a message failing this often on its own, while others succeed, is dropped
RETRY_SECONDS = (0.5, 1.0, 2.0, 5.0, 10.0)  # back-off while every message fails (database down)

Process = Callable[[Sequence[tuple[Received, bytes]]], Awaitable[None]]


class InboundProcessor:
    def __init__(self, spool: InboundSpool, process: Process) -> None:
        self._spool = spool
        self._process = process
        self._failures: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="inbound-processor")

    async def stop(self) -> None:
        """Finish the batch in hand; what is left stays in the spool for the next start."""
        self._stopping = True
        if self._task is not None:
            await self._task
            self._task = None

    async def drain(self) -> int:
        """Process what is waiting now, batch by batch (tests, and `_run`); how many were
        recorded."""
        done, failed_rounds = 0, 0
        while len(self._spool) and not self._stopping:
            batch = await self._spool.take(BATCH)
            if not batch:
                continue
            succeeded = await self._one_batch(batch)
            done += succeeded
            if succeeded == 0:  # nothing goes through: wait before the next try
                delay = RETRY_SECONDS[min(failed_rounds, len(RETRY_SECONDS) - 1)]
                failed_rounds += 1
                await asyncio.sleep(delay)
            else:
                failed_rounds = 0
        return done

    async def _run(self) -> None:
        while not self._stopping:
            try:
                if not await self.drain():
                    await asyncio.sleep(IDLE_POLL_SECONDS)
            except Exception:  # the processor must outlive any bug
                log.exception("event=inbound_processor_crashed")
                await asyncio.sleep(1.0)

    async def _one_batch(self, batch: list[tuple[Received, bytes]]) -> int:
        """Process and forget `batch`; on failure each message alone. How many went through."""
        try:
            await self._process(batch)
        except Exception:
            log.exception("event=inbound_batch_failed size=%d", len(batch))
        else:
            await self._spool.done([received.id for received, _ in batch])
            return len(batch)
        passed: list[str] = []
        failed: list[str] = []
        for item in batch:
            try:
                await self._process([item])
            except Exception:
                log.exception("event=inbound_message_failed id=%s", item[0].id)
                failed.append(item[0].id)
            else:
                passed.append(item[0].id)
        await self._spool.done(passed + self._given_up(failed, some_passed=bool(passed)))
        return len(passed)

    def _given_up(self, failed: list[str], some_passed: bool) -> list[str]:
        """The failed messages to drop: those failing MAX_FAILURES times while others pass."""
        dropped = []
        for queue_id in failed:
            count = self._failures.get(queue_id, 0) + (1 if some_passed else 0)
            self._failures[queue_id] = count
            if count >= MAX_FAILURES:
                log.error("event=inbound_message_dropped id=%s failures=%d", queue_id, count)
                dropped.append(queue_id)
                del self._failures[queue_id]
        return dropped
