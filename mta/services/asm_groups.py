"""Unsubscribe groups (SendGrid's ASM): the groups of an account and the addresses that left
each one. A group's suppressions are rows of the suppressions table with list "group"."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mta.core.clock import Clock, SystemClock
from mta.core.errors import NotFound, ValidationError
from mta.db.models import AsmGroup, Suppression
from mta.services.suppressions import (
    GROUP,
    Listed,
    addresses,
    containing,
    listed,
    manual_row,
    upsert_rows,
)

MAX_NAME, MAX_DESCRIPTION, MAX_GROUPS = 30, 100, 200  # SendGrid's limits
MAX_ID = 2**63 - 1  # what an SQL integer holds


class Group(msgspec.Struct, kw_only=True):
    id: int
    name: str
    description: str
    is_default: bool
    unsubscribes: int = 0
    last_email_sent_at: None = None


class GroupStatus(msgspec.Struct, kw_only=True):
    """One group as `GET /v3/asm/suppressions/{email}` shows it."""

    id: int
    name: str
    description: str
    is_default: bool
    suppressed: bool


class GroupSuppression(msgspec.Struct, kw_only=True):
    email: str
    group_id: int
    group_name: str
    created_at: int


def check_group_fields(name: str | None, description: str | None) -> None:
    if name is not None and not 0 < len(name.strip()) <= MAX_NAME:
        raise ValidationError(f"name is required and at most {MAX_NAME} characters", field="name")
    if description is not None and len(description) > MAX_DESCRIPTION:
        raise ValidationError(
            f"description is at most {MAX_DESCRIPTION} characters", field="description"
        )


def group_id_of(raw: str) -> int:
    """A path's group id; anything but a positive integer names no group."""
    found = parse_id(raw)
    if found is None:
        raise NotFound("unsubscribe group not found", field="group_id")
    return found


def parse_id(raw: str) -> int | None:
    """A group id in ASCII digits that SQL can hold, or None."""
    if not (raw.isascii() and raw.isdigit()) or not 0 < int(raw) <= MAX_ID:
        return None
    return int(raw)


class AsmGroupService:
    def __init__(self, sessions: async_sessionmaker[Any], clock: Clock | None = None) -> None:
        self._sessions = sessions
        self._clock = clock or SystemClock()

    async def create(self, account_id: str, name: str, description: str, is_default: bool) -> Group:
        check_group_fields(name, description)
        async with self._sessions() as session, session.begin():
            count = await session.scalar(
                select(func.count()).select_from(AsmGroup).where(AsmGroup.account_id == account_id)
            )
            if (count or 0) >= MAX_GROUPS:
                raise ValidationError(f"an account has at most {MAX_GROUPS} unsubscribe groups")
            await _name_free(session, account_id, name, None)
            if is_default:
                await _clear_default(session, account_id)
            row = AsmGroup(
                account_id=account_id,
                name=name.strip(),
                description=description,
                is_default=is_default,
                created=int(self._clock.time()),
            )
            session.add(row)
            await session.flush()
            return _group(row, 0)

    async def list_groups(self, account_id: str, ids: Sequence[int] = ()) -> list[Group]:
        """The account's groups (only `ids` if given), each with its unsubscribe count."""
        query = select(AsmGroup).where(AsmGroup.account_id == account_id)
        if ids:
            query = query.where(AsmGroup.id.in_(ids))
        async with self._sessions() as session:
            rows = list(await session.scalars(query.order_by(AsmGroup.id)))
            counts = await _counts(session, account_id, [row.id for row in rows])
        return [_group(row, counts.get(row.id, 0)) for row in rows]

    async def get(self, account_id: str, group_id: int) -> Group:
        async with self._sessions() as session:
            row = await _row(session, account_id, group_id)
            counts = await _counts(session, account_id, [group_id])
        return _group(row, counts.get(group_id, 0))

    async def update(
        self,
        account_id: str,
        group_id: int,
        name: str | None,
        description: str | None,
        is_default: bool | None,
    ) -> Group:
        check_group_fields(name, description)
        async with self._sessions() as session, session.begin():
            row = await _row(session, account_id, group_id)
            if name is not None:
                await _name_free(session, account_id, name, group_id)
                row.name = name.strip()
            if description is not None:
                row.description = description
            if is_default:
                await _clear_default(session, account_id)
            if is_default is not None:
                row.is_default = is_default
            counts = await _counts(session, account_id, [group_id])
            return _group(row, counts.get(group_id, 0))

    async def delete(self, account_id: str, group_id: int) -> None:
        """The group and its suppressions: mail to those addresses flows again."""
        async with self._sessions() as session, session.begin():
            row = await _row(session, account_id, group_id)
            await session.execute(_group_rows(delete(Suppression), account_id, group_id))
            await session.delete(row)

    async def add_suppressions(
        self, account_id: str, group_id: int, emails: Sequence[str]
    ) -> list[str]:
        """As SendGrid: addresses added to a group that does not exist go to the global
        unsubscribes instead."""
        checked, created = addresses(emails, "recipient_emails"), int(self._clock.time())
        async with self._sessions() as session, session.begin():
            exists = await session.get(AsmGroup, group_id)
            if exists is not None and exists.account_id == account_id:
                rows = [manual_row(account_id, GROUP, e, created, group_id) for e in checked]
            else:
                rows = [manual_row(account_id, "unsubscribes", e, created) for e in checked]
            await upsert_rows(session, rows, replace=False)
        return checked

    async def suppressed(
        self, account_id: str, group_id: int, among: Sequence[str] | None = None
    ) -> list[str]:
        """The group's suppressed addresses (only those in `among`, if given)."""
        async with self._sessions() as session:
            await _row(session, account_id, group_id)
            query = _group_rows(select(Suppression.email), account_id, group_id)
            if among is not None:
                query = query.where(Suppression.email.in_([e.lower() for e in among]))
            return list(await session.scalars(query.order_by(Suppression.email)))

    async def listed(
        self, account_id: str, group_id: int, email: str | None, limit: int, offset: int
    ) -> list[Listed]:
        """A page of the group's suppressions, newest first, with what caused each (only the
        addresses containing `email`, if given)."""
        query = _group_rows(select(Suppression), account_id, group_id)
        pattern = containing(email)
        if pattern is not None:
            query = query.where(Suppression.email.like(pattern, escape="\\"))
        query = query.order_by(Suppression.created.desc(), Suppression.id.desc())
        async with self._sessions() as session:
            await _row(session, account_id, group_id)
            rows = await session.scalars(query.limit(limit).offset(offset))
            return [listed(row) for row in rows]

    async def remove_suppression(self, account_id: str, group_id: int, email: str) -> None:
        async with self._sessions() as session, session.begin():
            await _row(session, account_id, group_id)
            query = _group_rows(delete(Suppression), account_id, group_id)
            result = await session.execute(query.where(Suppression.email == email.lower()))
            if not getattr(result, "rowcount", 0):
                raise NotFound(f"{email} is not suppressed in group {group_id}", field="email")

    async def all_suppressions(self, account_id: str) -> list[GroupSuppression]:
        async with self._sessions() as session:
            rows = await session.execute(
                select(Suppression.email, AsmGroup.id, AsmGroup.name, Suppression.created)
                .join(AsmGroup, AsmGroup.id == Suppression.group_id)
                .where(Suppression.account_id == account_id, Suppression.list == GROUP)
                .order_by(Suppression.email, AsmGroup.id)
            )
            return [
                GroupSuppression(email=e, group_id=g, group_name=n, created_at=c)
                for e, g, n, c in rows
            ]

    async def groups_for(self, account_id: str, email: str) -> list[GroupStatus]:
        """Every group of the account, and whether the address left it."""
        async with self._sessions() as session:
            groups = list(
                await session.scalars(
                    select(AsmGroup).where(AsmGroup.account_id == account_id).order_by(AsmGroup.id)
                )
            )
            left = set(
                await session.scalars(
                    select(Suppression.group_id).where(
                        Suppression.account_id == account_id,
                        Suppression.list == GROUP,
                        Suppression.email == email.lower(),
                    )
                )
            )
        return [
            GroupStatus(
                id=g.id,
                name=g.name,
                description=g.description,
                is_default=g.is_default,
                suppressed=g.id in left,
            )
            for g in groups
        ]


def _group(row: AsmGroup, unsubscribes: int) -> Group:
    return Group(
        id=row.id,
        name=row.name,
        description=row.description,
        is_default=row.is_default,
        unsubscribes=unsubscribes,
    )


def _group_rows(statement: Any, account_id: str, group_id: int) -> Any:
    return statement.where(
        Suppression.account_id == account_id,
        Suppression.list == GROUP,
        Suppression.group_id == group_id,
    )


async def _row(session: AsyncSession, account_id: str, group_id: int) -> AsmGroup:
    row = await session.get(AsmGroup, group_id)
    if row is None or row.account_id != account_id:  # another account's group is not found
        raise NotFound("unsubscribe group not found", field="group_id")
    return row


async def _counts(session: AsyncSession, account_id: str, ids: list[int]) -> dict[int, int]:
    if not ids:
        return {}
    rows = await session.execute(
        select(Suppression.group_id, func.count())
        .where(
            Suppression.account_id == account_id,
            Suppression.list == GROUP,
            Suppression.group_id.in_(ids),
        )
        .group_by(Suppression.group_id)
    )
    return {group_id: count for group_id, count in rows}


async def _name_free(
    session: AsyncSession, account_id: str, name: str, group_id: int | None
) -> None:
    query = select(AsmGroup.id).where(
        AsmGroup.account_id == account_id, AsmGroup.name == name.strip()
    )
    if group_id is not None:
        query = query.where(AsmGroup.id != group_id)
    if await session.scalar(query) is not None:
        raise ValidationError("another unsubscribe group already has this name", field="name")


async def _clear_default(session: AsyncSession, account_id: str) -> None:
    """Only one group of an account is the default."""
    await session.execute(
        update(AsmGroup)
        .where(AsmGroup.account_id == account_id, AsmGroup.is_default.is_(True))
        .values(is_default=False)
    )
