"""Batch ids (`/v3/mail/batch`) and the pause or cancel of scheduled sends
(`/v3/user/scheduled_sends`): rows in SQL, per account. Each change is handed to the
scheduler in-process at once; `follow` picks up the changes other nodes make."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol, cast

import msgspec
from sqlalchemy import CursorResult, select, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from mta.core.clock import Clock, SystemClock
from mta.core.errors import NotFound, ValidationError
from mta.core.model import new_id
from mta.core.ttl_cache import TtlCache
from mta.db.models import MailBatch
from mta.scheduler.batches import BatchKey, BatchStatus

log = logging.getLogger(__name__)
INVALID_BATCH_ID = "invalid batch id"  # SendGrid's words
KNOWN_BATCH_SECONDS = 3600.0  # batch ids are never deleted: a known one stays valid


class ScheduledSend(msgspec.Struct):
    batch_id: str
    status: BatchStatus


class BatchListener(Protocol):
    def batch_changed(self, key: BatchKey, status: BatchStatus | None) -> None: ...


def status_changes(
    old: Mapping[BatchKey, BatchStatus], new: Mapping[BatchKey, BatchStatus]
) -> list[tuple[BatchKey, BatchStatus | None]]:
    """The batches whose status differs between two snapshots, with the new status."""
    keys = sorted(set(old) | set(new))
    return [(key, new.get(key)) for key in keys if old.get(key) != new.get(key)]


class BatchService:
    def __init__(
        self,
        sessions: async_sessionmaker[Any],
        listener: BatchListener,
        clock: Clock | None = None,
    ) -> None:
        self._sessions = sessions
        self._listener = listener
        self._clock = clock or SystemClock()
        self._statuses: dict[BatchKey, BatchStatus] = {}  # as last told to the listener
        self._writes = 0  # local changes, so that `follow` never applies an older snapshot
        self._known: TtlCache[BatchKey, bool] = TtlCache(KNOWN_BATCH_SECONDS, clock=self._clock)

    async def create(self, account_id: str) -> str:
        now = self._clock.time()
        batch_id = new_id(now)
        async with self._sessions() as session:
            session.add(
                MailBatch(
                    id=batch_id, account_id=account_id, status=None, created_at=now, updated_at=now
                )
            )
            await session.commit()
        return batch_id

    async def validate(self, account_id: str, batch_id: str, field: str | None = None) -> str:
        """The batch id if this account created it; otherwise 400 "invalid batch id"."""

        async def load() -> bool:
            if await self._row(account_id, batch_id) is None:
                raise ValidationError(INVALID_BATCH_ID, field=field)
            return True

        await self._known.get_or_load((account_id, batch_id), load)
        return batch_id

    async def require(self, account_id: str, batch_id: str) -> None:
        """For intake: a send's batch_id must be one of the account's (cached once seen)."""
        await self.validate(account_id, batch_id, field="batch_id")

    async def pause_or_cancel(
        self, account_id: str, batch_id: str, status: BatchStatus
    ) -> ScheduledSend:
        """Give a batch a status; one that already has one is changed by `update` instead."""
        await self.validate(account_id, batch_id, field="batch_id")
        if not await self._write(account_id, batch_id, status, has_status=False):
            raise ValidationError(
                f"batch {batch_id} is already paused or cancelled: change it with PATCH or "
                f"DELETE /v3/user/scheduled_sends/{batch_id}",
                field="batch_id",
            )
        return ScheduledSend(batch_id, status)

    async def list_scheduled(self, account_id: str) -> list[ScheduledSend]:
        async with self._sessions() as session:
            rows = await session.execute(
                select(MailBatch.id, MailBatch.status)
                .where(MailBatch.account_id == account_id, MailBatch.status.is_not(None))
                .order_by(MailBatch.id)
            )
            return [ScheduledSend(batch_id, cast(BatchStatus, status)) for batch_id, status in rows]

    async def get(self, account_id: str, batch_id: str) -> list[ScheduledSend]:
        row = await self._row(account_id, batch_id)
        if row is None:
            raise ValidationError(INVALID_BATCH_ID)
        if row.status is None:
            raise NotFound(f"batch {batch_id} is neither paused nor cancelled")
        return [ScheduledSend(batch_id, cast(BatchStatus, row.status))]

    async def update(self, account_id: str, batch_id: str, status: BatchStatus) -> None:
        if not await self._write(account_id, batch_id, status, has_status=True):
            await self.get(account_id, batch_id)  # raises the reason

    async def delete(self, account_id: str, batch_id: str) -> None:
        """Lift a pause or cancel: the batch's messages go at their time (or now, if due)."""
        if not await self._write(account_id, batch_id, None, has_status=True):
            await self.get(account_id, batch_id)

    async def start(self) -> None:
        """Before the scheduler starts: hand it every batch's status."""
        await self._sync()

    async def follow(self, interval: float) -> None:
        """Poll for changes made through other nodes sharing the database."""
        while True:
            await self._clock.sleep(interval)
            try:
                await self._sync()
            except Exception:  # a database hiccup must not end the loop
                log.exception("event=batch_sync_failed")

    async def _sync(self) -> None:
        writes = self._writes
        async with self._sessions() as session:
            rows = await session.execute(
                select(MailBatch.account_id, MailBatch.id, MailBatch.status).where(
                    MailBatch.status.is_not(None)
                )
            )
            snapshot = {(a, b): cast(BatchStatus, s) for a, b, s in rows}
        if writes != self._writes:  # a local change raced the read: the next round applies
            return
        for key, status in status_changes(self._statuses, snapshot):
            self._tell(key, status)

    async def _row(self, account_id: str, batch_id: str) -> MailBatch | None:
        async with self._sessions() as session:
            row = await session.get(MailBatch, batch_id)
        return row if row is not None and row.account_id == account_id else None

    async def _write(
        self, account_id: str, batch_id: str, status: BatchStatus | None, *, has_status: bool
    ) -> bool:
        """Set the status of a batch that has (or has not) one now; False if none matched."""
        current = MailBatch.status.is_not(None) if has_status else MailBatch.status.is_(None)
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                update(MailBatch)
                .where(MailBatch.id == batch_id, MailBatch.account_id == account_id, current)
                .values(status=status, updated_at=self._clock.time())
            )
        if cast(CursorResult[Any], result).rowcount != 1:
            return False
        self._writes += 1
        self._tell((account_id, batch_id), status)
        return True

    def _tell(self, key: BatchKey, status: BatchStatus | None) -> None:
        if status is None:
            self._statuses.pop(key, None)
        else:
            self._statuses[key] = status
        self._listener.batch_changed(key, status)
