"""Accounts: the tenant every domain, key, template, message and webhook belongs to."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker

from mta.core.clock import Clock, SystemClock
from mta.core.model import new_id
from mta.db.models import Account


class AccountService:
    def __init__(self, sessions: async_sessionmaker[Any], clock: Clock | None = None) -> None:
        self._sessions = sessions
        self._clock = clock or SystemClock()

    async def get_or_create(self, name: str) -> Account:
        async with self._sessions() as session:
            found: Account | None = await session.scalar(
                select(Account).where(Account.name == name)
            )
            if found is not None:
                return found
            account = Account(id=new_id(), name=name, created_at=self._clock.time())
            session.add(account)
            try:
                await session.commit()
            except IntegrityError:  # created concurrently
                await session.rollback()
                existing: Account | None = await session.scalar(
                    select(Account).where(Account.name == name)
                )
                assert existing is not None
                return existing
            return account

    async def exists(self, account_id: str) -> bool:
        async with self._sessions() as session:
            return await session.get(Account, account_id) is not None
