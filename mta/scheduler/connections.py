"""Connections per destination: each destination's ready queue is served by connections
opened within its own limit and the global one, each carrying message after message; a
destination that keeps refusing connections is backed off as a whole. A slow or dead
destination holds only its own connections."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from config.settings import DeliverySettings
from mta.core.clock import Clock
from mta.core.errors import PermanentFailure, TransientFailure
from mta.core.metrics import QueueDepth
from mta.core.model import Outcome
from mta.delivery.client import SmtpSession
from mta.delivery.deliverer import Deliverer
from mta.scheduler.destinations import Destination, Job
from mta.scheduler.live import InFlight
from mta.scheduler.recording import OutcomeRecorder
from mta.scheduler.tasks import Tasks
from queue_store import QueueStore
from queue_store.entries import SmtpReply

log = logging.getLogger(__name__)


class Connections:
    def __init__(
        self,
        deliverer: Deliverer,
        settings: DeliverySettings,
        recorder: OutcomeRecorder,
        live: InFlight,
        store: QueueStore,
        clock: Clock,
        tasks: Tasks,
    ) -> None:
        self.settings = settings
        self.running = False
        self._deliverer = deliverer
        self._recorder = recorder
        self._live = live
        self._store = store
        self._clock = clock
        self._tasks = tasks
        self._destinations: dict[str, Destination] = {}
        self._open = 0  # connections open or opening, over all destinations
        self._closed = asyncio.Event()  # set whenever the last connection has closed

    def submit(self, job: Job) -> None:
        """Queue the job on its destination and open a connection for it if one may."""
        destination = self.destination(self._deliverer.destination_key(job.domain))
        destination.push(job)
        self._kick(destination)

    def start(self) -> None:
        self.running = True
        for destination in self._destinations.values():
            self._kick(destination)

    async def stop(self, grace: float) -> None:
        """Open no more connections; idle ones close now, busy ones get `grace` seconds to
        finish the message they are sending. Part of the process's shutdown grace, so real
        seconds, as the process layer measures the rest of it."""
        self.running = False
        for destination in self._destinations.values():
            destination.close_idle()
        if self._open and grace > 0:
            self._closed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closed.wait(), grace)

    def apply_settings(self, settings: DeliverySettings) -> None:
        """A reload: routes, limits and TLS policies for what is sent from now on; a
        connection already open finishes its message on the old ones."""
        self.settings = settings
        self._deliverer.apply_settings(settings)
        for destination in self._destinations.values():
            concurrency, per_connection = settings.limits_for(destination.key)
            destination.concurrency = concurrency
            destination.messages_per_connection = per_connection
        self._kick_all()

    def ready(self) -> list[QueueDepth]:
        """Jobs waiting per destination (for /metrics)."""
        return [
            QueueDepth("ready", key, len(destination.jobs))
            for key, destination in self._destinations.items()
            if destination.jobs
        ]

    def destination(self, key: str) -> Destination:
        destination = self._destinations.get(key)
        if destination is None:
            concurrency, per_connection = self.settings.limits_for(key)
            destination = Destination(key, concurrency, per_connection)
            self._destinations[key] = destination
        return destination

    def _kick(self, destination: Destination) -> None:
        """Open connections for waiting jobs, within the destination's and global limits."""
        if not self.running:
            return
        if destination.suspended(self._clock.time()):
            self._tasks.spawn(self._defer_suspended(destination))
            return
        while destination.wants_connection() and self._open < self.settings.concurrency:
            destination.active += 1
            self._open += 1
            self._tasks.spawn(self._connection(destination))

    def _kick_all(self) -> None:
        for destination in self._destinations.values():
            if destination.jobs:
                self._kick(destination)

    async def _connection(self, destination: Destination) -> None:
        try:
            job = destination.jobs.popleft() if destination.jobs else None
            if job is not None:
                await self._serve(destination, job)
        except Exception:
            log.exception("event=connection_failed destination=%s", destination.key)
        finally:
            destination.active -= 1
            self._open -= 1
            if not self._open:
                self._closed.set()
            if not destination.jobs and not destination.active:
                self._destinations.pop(destination.key, None)
            self._kick_all()

    async def _serve(self, destination: Destination, job: Job) -> None:
        """Open a session for `job` and keep sending the destination's jobs over it."""
        session = await self._session(destination, job)
        if session is None:
            return
        sent = 0
        try:
            current: Job | None = job
            while current is not None:
                await self._send(session, current)
                sent += 1
                if session.broken or sent >= destination.messages_per_connection:
                    break
                if not self.running:  # stopping: the next job waits in the spool
                    break
                idle = self.settings.connection_idle_seconds
                current = await destination.next_job(idle, self._clock)
        finally:
            await session.close()

    async def _session(self, destination: Destination, job: Job) -> SmtpSession | None:
        """A session to the job's destination; None when it cannot be had, the job's outcome
        recorded (and the whole destination backed off after repeated failures)."""
        try:
            session = await self._deliverer.open(job.domain)
        except PermanentFailure as failure:
            await self._recorder.finish(job, Outcome(reply=failure.reply, mx=failure.mx_host or ""))
            return None
        except TransientFailure as failure:
            await self._recorder.finish(job, Outcome(reply=failure.reply, mx=failure.mx_host or ""))
            limit, backoff = (
                self.settings.destination_failure_limit,
                self.settings.destination_backoff_seconds,
            )
            if destination.connection_failed(limit, backoff, self._clock.time()):
                log.warning(
                    "event=destination_backoff destination=%s failures=%d until=%.0f",
                    destination.key,
                    destination.failures,
                    destination.suspended_until,
                )
                await self._defer_suspended(destination, failure.reply)
            return None
        destination.connection_worked()
        return session

    async def _send(self, session: SmtpSession, job: Job) -> None:
        queue_id = job.entry.envelope.queue_id
        content = self._live.content(queue_id) or await self._store.load_content(queue_id)
        replies = await session.send(self._deliverer.transactions(job.entry, job.states), content)
        tls = session.tls
        outcomes = [
            Outcome(
                reply=reply,
                mx=session.host,
                ip=session.source_ip,
                tls=tls is not None,
                tls_version=tls.version if tls else "",
                tls_cipher=tls.cipher if tls else "",
            )
            for reply in replies
        ]
        self._recorder.record_later(job, outcomes)

    async def _defer_suspended(
        self, destination: Destination, reply: SmtpReply | None = None
    ) -> None:
        """A backed-off destination: defer everything queued for it, without attempts."""
        reason = reply or SmtpReply(451, "4.4.1", f"destination {destination.key} is backed off")
        while destination.jobs:
            job = destination.jobs.popleft()
            await self._recorder.finish(
                job,
                Outcome(reply=reason),
                counts_attempt=False,
                not_before=destination.suspended_until,
            )
