"""Accounts: the tenant every domain, key, template, message and webhook belongs to, and what
an operator does with them (create, list, disable, enable, delete; SendGrid's subusers).

A disabled account's keys and tokens are refused, its queued mail is held and its webhooks
pause; `follow` tells this node's scheduler which accounts are disabled, also when another
node changed it.
"""

from __future__ import annotations

import logging
from typing import Any, Literal, Protocol

import msgspec
from sqlalchemy import Table, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mta.core.clock import Clock, SystemClock
from mta.core.errors import AuthenticationError, Conflict, NotFound, PermissionDenied
from mta.core.model import new_id
from mta.core.ttl_cache import SHARED_CACHE_SECONDS, TtlCache
from mta.db.models import Account, Base
from mta.services.api_keys import ApiKeyService
from mta.services.identity import INVALID_GRANT, Principal

log = logging.getLogger(__name__)
ACCOUNT_DISABLED = "access forbidden: the account is disabled"
State = Literal["enabled", "disabled", "deleted"]


class AccountView(msgspec.Struct, frozen=True):
    """An account as SendGrid shows a subuser."""

    id: str
    username: str
    email: str | None
    disabled: bool


class DisabledListener(Protocol):
    def accounts_disabled(self, account_ids: frozenset[str]) -> None: ...


class EnabledAccountKeys:
    """API keys of enabled accounts only, as the SMTP submission listener checks them: a
    disabled account's key is refused like an unknown one (535)."""

    def __init__(self, keys: ApiKeyService, accounts: AccountService) -> None:
        self._keys = keys
        self._accounts = accounts

    async def authenticate(self, raw_key: str) -> Principal:
        principal = await self._keys.authenticate(raw_key)
        try:
            await self._accounts.require_enabled(principal.account_id)
        except PermissionDenied as exc:  # a deleted account's is an AuthenticationError
            raise AuthenticationError(str(exc)) from None
        return principal


def view(account: Account) -> AccountView:
    return AccountView(account.id, account.name, account.email, account.disabled)


class AccountService:
    def __init__(self, sessions: async_sessionmaker[Any], clock: Clock | None = None) -> None:
        self._sessions = sessions
        self._clock = clock or SystemClock()
        self._state: TtlCache[str, State] = TtlCache(SHARED_CACHE_SECONDS, clock=self._clock)
        self._listeners: list[DisabledListener] = []

    async def get_or_create(self, name: str) -> Account:
        async with self._sessions() as session:
            found = await _by_name(session, name)
            if found is not None:
                return found
            account = Account(id=new_id(), name=name, created_at=self._clock.time())
            session.add(account)
            try:
                await session.commit()
            except IntegrityError:  # created concurrently
                await session.rollback()
                existing = await _by_name(session, name)
                assert existing is not None
                return existing
            return account

    async def exists(self, account_id: str) -> bool:
        async with self._sessions() as session:
            return await session.get(Account, account_id) is not None

    # -- the operator's ---------------------------------------------------------------------

    async def create(self, name: str, email: str | None) -> AccountView:
        async with self._sessions() as session:
            account = Account(
                id=new_id(), name=name, email=email, created_at=self._clock.time(), disabled=False
            )
            session.add(account)
            try:
                await session.commit()
            except IntegrityError:
                raise Conflict(
                    f"username exists: an account named {name} exists", field="username"
                ) from None
        return view(account)

    async def list(
        self, name: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[AccountView]:
        query = select(Account).order_by(Account.name).limit(max(1, min(limit, 500)))
        query = query.offset(max(offset, 0))
        if name is not None:
            query = query.where(Account.name == name)
        async with self._sessions() as session:
            return [view(a) for a in await session.scalars(query)]

    async def get(self, name: str) -> AccountView:
        async with self._sessions() as session:
            found = await _by_name(session, name)
        if found is None:
            raise NotFound(f"no account named {name}")
        return view(found)

    async def set_disabled(self, name: str, disabled: bool) -> AccountView:
        async with self._sessions() as session, session.begin():
            found = await _by_name(session, name)
            if found is None:
                raise NotFound(f"no account named {name}")
            found.disabled = disabled
        self._state.forget(found.id)
        await self.sync()
        return view(found)

    async def delete(self, name: str) -> str:
        """Remove the account and everything it owns; its id (its queued mail is the
        caller's to remove)."""
        async with self._sessions() as session, session.begin():
            found = await _by_name(session, name)
            if found is None:
                raise NotFound(f"no account named {name}")
            await _purge(session, found.id)
        self._state.forget(found.id)
        return found.id

    # -- what the edges and the scheduler ask ---------------------------------------------

    async def require_enabled(self, account_id: str) -> None:
        """PermissionDenied (403 over HTTP) for a disabled account, AuthenticationError (401)
        for a deleted one; SMTP refuses both with 535."""
        state = await self._state.get_or_load(account_id, lambda: self._load(account_id))
        if state == "disabled":
            raise PermissionDenied(ACCOUNT_DISABLED)
        if state == "deleted":
            raise AuthenticationError(
                INVALID_GRANT, help="the account of this credential was deleted"
            )

    def listen(self, listener: DisabledListener) -> None:
        self._listeners.append(listener)

    async def sync(self) -> None:
        """Tell the listeners which accounts are disabled now."""
        async with self._sessions() as session:
            ids = frozenset(await session.scalars(select(Account.id).where(Account.disabled)))
        for listener in self._listeners:
            listener.accounts_disabled(ids)

    async def follow(self, interval: float) -> None:
        """Keep the listeners told, also of changes made on other nodes."""
        while True:
            await self._clock.sleep(interval)
            try:
                await self.sync()
            except Exception:
                log.exception("event=account_sync_failed")

    async def _load(self, account_id: str) -> State:
        async with self._sessions() as session:
            found = await session.get(Account, account_id)
        return "deleted" if found is None else "disabled" if found.disabled else "enabled"


async def _by_name(session: AsyncSession, name: str) -> Account | None:
    found: Account | None = await session.scalar(select(Account).where(Account.name == name))
    return found


async def _purge(session: AsyncSession, account_id: str) -> None:
    """Every row of the account, children before parents; rows that name the account only
    through their parent (recipients, webhook deliveries) go with the parent's."""
    for table in reversed(Base.metadata.sorted_tables):
        if table.name == "accounts":
            continue
        if "account_id" in table.c:
            await session.execute(delete(table).where(table.c.account_id == account_id))
            continue
        for fk in table.foreign_keys:
            parent = fk.column.table
            if isinstance(parent, Table) and "account_id" in parent.c:
                owned = select(fk.column).where(parent.c.account_id == account_id)
                await session.execute(delete(table).where(fk.parent.in_(owned)))
    await session.execute(delete(Account).where(Account.id == account_id))
