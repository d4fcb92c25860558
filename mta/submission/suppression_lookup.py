"""Suppression lookups shared by concurrent submissions: while one SELECT runs, the lookups
that arrive wait and then go out together, as concurrent spool writes share one fsync."""

from __future__ import annotations

import asyncio
from collections.abc import Collection

from mta.submission.suppressed import Lookup

Key = tuple[str, int | None]  # (account, unsubscribe group)
Waiter = tuple[frozenset[str], asyncio.Future[dict[str, set[str]]]]


def answer_for(emails: frozenset[str], found: dict[str, set[str]]) -> dict[str, set[str]]:
    """The part of a shared answer that one caller asked about."""
    return {email: found[email] for email in emails if email in found}


class CoalescedLookup:
    """A `Lookup` that runs at most one query per (account, group) at a time; the rest of
    the intake sees the same answers as from the lookup it wraps."""

    def __init__(self, lookup: Lookup) -> None:
        self._lookup = lookup
        self._waiting: dict[Key, list[Waiter]] = {}
        self._running: set[Key] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def require_group(self, account_id: str, group_id: int) -> None:
        await self._lookup.require_group(account_id, group_id)

    async def lookup(
        self, account_id: str, emails: Collection[str], group_id: int | None
    ) -> dict[str, set[str]]:
        key = (account_id, group_id)
        future: asyncio.Future[dict[str, set[str]]] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, []).append((frozenset(e.lower() for e in emails), future))
        if key not in self._running:
            self._running.add(key)
            task = asyncio.create_task(self._drain(key), name="suppression-lookup")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await future

    async def _drain(self, key: Key) -> None:
        try:
            while waiters := self._waiting.pop(key, []):
                await self._answer(key, waiters)
        finally:
            self._running.discard(key)

    async def _answer(self, key: Key, waiters: list[Waiter]) -> None:
        wanted = frozenset().union(*(emails for emails, _ in waiters))
        try:
            found = await self._lookup.lookup(key[0], wanted, key[1])
        except Exception as exc:  # every caller gets the failure, as it would alone
            for _, future in waiters:
                if not future.done():
                    future.set_exception(exc)
            return
        for emails, future in waiters:
            if not future.done():
                future.set_result(answer_for(emails, found))
