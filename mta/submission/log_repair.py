"""Start-up repair of the message log: a message acknowledged just before a crash is in the
spool, but its log entry and processed events (written in batches off the hot path) may
never have reached the database. They are written again from the spool."""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from mta.core.clock import Clock, SystemClock
from mta.core.events import Processed, about
from mta.core.model import id_time
from mta.db.models import Message
from mta.events.bus import EventBus, MessageLogEntry
from mta.submission.mime import header_values
from queue_store import QueueStore
from queue_store.entries import QueueEntry

log = logging.getLogger(__name__)
REPAIR_WINDOW_SECONDS = 86_400.0  # only mail accepted this recently can have lost its log
CHUNK = 500


class LogRepair:
    def __init__(
        self,
        store: QueueStore,
        sessions: async_sessionmaker[Any],
        bus: EventBus,
        clock: Clock | None = None,
    ) -> None:
        self._store = store
        self._sessions = sessions
        self._bus = bus
        self._clock = clock or SystemClock()

    async def run(self) -> int:
        """Write the log of every recently accepted spooled message the database lacks."""
        since = self._clock.time() - REPAIR_WINDOW_SECONDS
        recent = [q for q in self._store.pending_index() if id_time(q) >= since]
        repaired = 0
        for start in range(0, len(recent), CHUNK):
            repaired += await self._repair(recent[start : start + CHUNK])
        if repaired:
            log.warning("event=message_log_repaired messages=%d", repaired)
        return repaired

    async def _repair(self, queue_ids: list[str]) -> int:
        parts: defaultdict[str, list[QueueEntry]] = defaultdict(list)
        for queue_id in queue_ids:
            try:
                entry = await self._store.load(queue_id)
            except KeyError:
                continue
            parts[entry.envelope.message_id].append(entry)
        async with self._sessions() as session:
            known = set(await session.scalars(select(Message.id).where(Message.id.in_(parts))))
        missing = [entries for message_id, entries in parts.items() if message_id not in known]
        for entries in missing:
            await self._rewrite(entries)
        return len(missing)

    async def _rewrite(self, entries: list[QueueEntry]) -> None:
        first = entries[0].envelope
        headers = header_values(await self._store.load_content(first.queue_id))
        self._bus.accepted(
            MessageLogEntry(
                message_id=first.message_id,
                account_id=first.account_id,
                api_key_id=first.api_key_id,
                from_email=first.sender,
                subject=headers.get("subject", ""),
                template_id=None,
                categories=first.categories,
                custom_args=first.custom_args,
                sandbox=first.sandbox,
                recipients=[(s.index, s.email) for e in entries for s in e.recipients],
                created_at=first.created_at,
            )
        )
        at = int(self._clock.time())
        for entry in entries:
            for state in entry.recipients:
                self._bus.emit(Processed(**about(entry.envelope, state), timestamp=at))
