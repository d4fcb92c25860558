"""The message as sent, after delivery too: read from the spool segments this host keeps
(`[storage] keep_sent_hours`), every worker's, for the dashboard's message page."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from queue_store.sent_copies import find_copy


class SentMail:
    """Looks a message's bytes up by id in the spools `spools()` names (read at each call,
    so a worker added later is searched too)."""

    def __init__(self, spools: Callable[[], list[Path]]) -> None:
        self._spools = spools

    async def content(self, account_id: str, message_id: str, logged_at: float) -> bytes | None:
        """The account's copy of the message logged at `logged_at`, if still kept."""
        return await asyncio.to_thread(find_copy, self._spools(), message_id, account_id, logged_at)
