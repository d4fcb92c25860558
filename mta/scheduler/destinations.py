"""Per-destination ready queues: the jobs waiting for one destination, its open connections,
its idle connections waiting for work, and its back-off after repeated connection failures."""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field

from mta.core.clock import Clock
from queue_store.entries import QueueEntry, RecipientState

MAX_DESTINATION_BACKOFF = 3600.0


@dataclass
class Job:
    """The recipients of one queued message that share a destination."""

    entry: QueueEntry
    states: list[RecipientState]
    domain: str


@dataclass
class Destination:
    key: str
    concurrency: int
    messages_per_connection: int
    jobs: deque[Job] = field(default_factory=deque)
    active: int = 0  # open (or opening) connections
    idle: int = 0  # of those, waiting for the next job
    failures: int = 0  # connection failures in a row
    suspended_until: float = 0.0
    closing: bool = False  # stopping: idle connections quit instead of waiting for work
    work: asyncio.Event = field(default_factory=asyncio.Event)

    def push(self, job: Job) -> None:
        self.jobs.append(job)
        self.work.set()

    def wants_connection(self) -> bool:
        """Jobs are waiting that idle connections will not pick up, and a slot is free."""
        return len(self.jobs) > self.idle and self.active < self.concurrency

    def suspended(self, now: float) -> bool:
        return self.suspended_until > now

    def close_idle(self) -> None:
        """Stopping: idle connections stop waiting for the next job and close now."""
        self.closing = True
        self.work.set()

    def connection_failed(self, limit: int, base_backoff: float, now: float) -> bool:
        """Count a failure; True when the destination has just been backed off as a whole
        (from `now`, wall-clock seconds, until `suspended_until`)."""
        self.failures += 1
        if self.failures < limit:
            return False
        steps = self.failures - limit
        delay = min(base_backoff * 2**steps, MAX_DESTINATION_BACKOFF)
        self.suspended_until = now + delay
        return True

    def connection_worked(self) -> None:
        self.failures = 0
        self.suspended_until = 0.0

    async def next_job(self, idle_seconds: float, clock: Clock) -> Job | None:
        """The next job, waiting up to `idle_seconds` for one to arrive."""
        deadline = clock.monotonic() + idle_seconds
        while not self.jobs:
            remaining = deadline - clock.monotonic()
            if remaining <= 0 or self.closing:
                return None
            self.work.clear()
            self.idle += 1
            try:
                await clock.wait_for(self.work, remaining)
            finally:
                self.idle -= 1
        return self.jobs.popleft()
