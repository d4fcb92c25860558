"""SendGrid's suppression lists per account (bounces, blocks, invalid_emails, spam_reports,
global unsubscribes): reading, adding and removing entries, the set-based upsert the event
sink shares, the one-SELECT lookup intake does, and `why` (which event put an address where)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, Literal, cast

import msgspec
from sqlalchemy import Select, Table, bindparam, delete, or_, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mta.core.addresses import check_email
from mta.core.clock import Clock, SystemClock
from mta.core.errors import NotFound, ValidationError
from mta.db.models import AsmGroup, Suppression
from mta.db.models import Event as EventRow

ListName = Literal["bounces", "blocks", "invalid_emails", "spam_reports", "unsubscribes"]
LISTS: tuple[ListName, ...] = (
    "bounces",
    "blocks",
    "invalid_emails",
    "spam_reports",
    "unsubscribes",
)
GROUP = "group"  # the `list` of a per-group suppression (group_id > 0)
SUPPRESSIONS = cast(Table, Suppression.__table__)
KEY = ("account_id", "list", "group_id", "email")
FROM_EVENT = ("created", "reason", "status", "ip", "event_id", "event_type", "message_id")
DEFAULT_LIMIT, MAX_LIMIT = 500, 10_000
MAX_OFFSET, MAX_TIME = 10**9, 2**62  # within what an SQL integer holds
LOOKUP_CHUNK = 900  # bound parameters per IN (…), well under SQLite's limit
MAX_EMAIL = 254  # the longest address (RFC 5321), so the longest useful search


class Entry(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One list item in SendGrid's shape; each list shows only its own fields."""

    created: int
    email: str
    reason: str | msgspec.UnsetType = msgspec.UNSET
    status: str | msgspec.UnsetType = msgspec.UNSET
    ip: str | msgspec.UnsetType = msgspec.UNSET


class Listed(msgspec.Struct, kw_only=True):
    """One entry with everything stored about why it is there (the dashboard's rows): the
    cause's reply, status and IP, and the event type and message, or None if added by hand."""

    created: int
    email: str
    reason: str
    status: str
    ip: str
    event_type: str | None
    message_id: str | None


class Cause(msgspec.Struct, kw_only=True):
    """The event that put an address on a list."""

    event_id: str
    type: str
    timestamp: int
    message_id: str | None
    reason: str = ""
    status: str = ""


class Why(msgspec.Struct, kw_only=True):
    """Ours: one entry for an address, and what put it there (an event, or the API)."""

    list: str
    group_id: int | None
    group_name: str | None
    created: int
    reason: str
    status: str
    source: Literal["event", "api"]
    event: Cause | None


def entry(name: str, row: Suppression) -> Entry:
    if name in ("bounces", "blocks"):
        return Entry(created=row.created, email=row.email, reason=row.reason, status=row.status)
    if name == "invalid_emails":
        return Entry(created=row.created, email=row.email, reason=row.reason)
    if name == "spam_reports":
        return Entry(created=row.created, email=row.email, ip=row.ip)
    return Entry(created=row.created, email=row.email)


def listed(row: Suppression) -> Listed:
    return Listed(**{name: getattr(row, name) for name in Listed.__struct_fields__})


def containing(text: str | None) -> str | None:
    """`?email=` as a LIKE pattern: the addresses containing the text, case-insensitively
    (addresses are stored lower-cased); LIKE's own wildcards in it match themselves."""
    wanted = (text or "").strip().lower()
    if not wanted:
        return None
    if len(wanted) > MAX_EMAIL:
        raise ValidationError(f"email is at most {MAX_EMAIL} characters", field="email")
    escaped = wanted.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def list_name(name: str) -> ListName:
    if name not in LISTS:
        raise NotFound(f"unknown suppression list {name!r}")
    return name


def page_bounds(limit: str | None, offset: str | None) -> tuple[int, int]:
    """SendGrid's `limit` / `offset` query parameters, checked."""
    try:
        size = DEFAULT_LIMIT if limit in (None, "") else int(limit)
        start = 0 if offset in (None, "") else int(offset)
    except ValueError:
        raise ValidationError("limit and offset must be integers", field="limit") from None
    if not 1 <= size <= MAX_LIMIT or not 0 <= start <= MAX_OFFSET:
        raise ValidationError(f"limit must be 1 to {MAX_LIMIT}, offset at least 0", field="limit")
    return size, start


def time_bound(value: str | None, field: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        seconds = int(value)
    except ValueError:
        seconds = MAX_TIME + 1
    if abs(seconds) > MAX_TIME:
        raise ValidationError(f"{field} must be a Unix timestamp", field=field)
    return seconds


def addresses(emails: Sequence[str], field: str) -> list[str]:
    """Checked, lower-cased, de-duplicated addresses in their first order."""
    found = [
        check_email(e.strip(), f"{field}.{i}", utf8=True).lower() for i, e in enumerate(emails)
    ]
    return list(dict.fromkeys(found))


def upsert_statement(session: AsyncSession, replace: bool) -> Any:
    """INSERT … ON CONFLICT on the entry key: a newer cause replaces the old one (`replace`),
    or the existing entry is kept. Both SQLite and PostgreSQL spell it the same way."""
    dialect = session.get_bind().dialect.name
    statement = (pg_insert if dialect == "postgresql" else sqlite_insert)(SUPPRESSIONS)
    if not replace:
        return statement.on_conflict_do_nothing(index_elements=list(KEY))
    return statement.on_conflict_do_update(
        index_elements=list(KEY), set_={name: statement.excluded[name] for name in FROM_EVENT}
    )


async def upsert_rows(
    session: AsyncSession, rows: Sequence[dict[str, Any]], *, replace: bool = True
) -> None:
    """Write entries in one executemany statement; rows carry every column of the key."""
    if rows:
        await session.execute(upsert_statement(session, replace), list(rows))


async def delete_keys(session: AsyncSession, keys: Collection[tuple[str, str, int, str]]) -> None:
    """Remove entries by (account, list, group, email), in chunks of one statement each."""
    ordered = sorted(keys)
    for start in range(0, len(ordered), LOOKUP_CHUNK):
        chunk = ordered[start : start + LOOKUP_CHUNK]
        columns = tuple_(*(SUPPRESSIONS.c[name] for name in KEY))
        await session.execute(delete(SUPPRESSIONS).where(columns.in_(chunk)))


def manual_row(
    account_id: str, name: str, email: str, created: int, group_id: int = 0
) -> dict[str, Any]:
    """An entry added over the API at `created` (Unix seconds): no event caused it."""
    return {
        "account_id": account_id,
        "list": name,
        "group_id": group_id,
        "email": email,
        "created": created,
        "reason": "",
        "status": "",
        "ip": "",
        "event_id": None,
        "event_type": None,
        "message_id": None,
    }


def lookup_statement(with_group: bool) -> Select[str, str]:
    """Intake's lookup, built once: the addresses, account and group are bound at each call,
    so only the IN list's length changes what SQLAlchemy compiles."""
    in_group = Suppression.group_id == 0
    if with_group:
        in_group = or_(in_group, Suppression.group_id == bindparam("group_id"))
    return select(Suppression.email, Suppression.list).where(
        Suppression.account_id == bindparam("account_id"),
        Suppression.email.in_(bindparam("emails", expanding=True)),
        in_group,
    )


class SuppressionService:
    def __init__(self, sessions: async_sessionmaker[Any], clock: Clock | None = None) -> None:
        self._sessions = sessions
        self._clock = clock or SystemClock()
        self._lookup_any = lookup_statement(with_group=False)
        self._lookup_group = lookup_statement(with_group=True)

    async def list_entries(
        self,
        account_id: str,
        name: ListName,
        start_time: int | None = None,
        end_time: int | None = None,
        limit: int = DEFAULT_LIMIT,
        offset: int = 0,
        email: str | None = None,
    ) -> list[Entry]:
        """The list's entries, newest first, within [start_time, end_time] if given, and
        only the addresses containing `email` if given."""
        query = self._listing(account_id, name, start_time, end_time, email)
        async with self._sessions() as session:
            rows = await session.scalars(query.limit(limit).offset(offset))
            return [entry(name, row) for row in rows]

    async def listed(
        self, account_id: str, name: ListName, email: str | None, limit: int, offset: int
    ) -> list[Listed]:
        """As `list_entries`, each entry with all that is stored about its cause."""
        query = self._listing(account_id, name, None, None, email)
        async with self._sessions() as session:
            return [listed(row) for row in await session.scalars(query.limit(limit).offset(offset))]

    @staticmethod
    def _listing(
        account_id: str,
        name: ListName,
        start_time: int | None,
        end_time: int | None,
        email: str | None,
    ) -> Select[Suppression]:
        query = select(Suppression).where(
            Suppression.account_id == account_id,
            Suppression.list == name,
            Suppression.group_id == 0,
        )
        if start_time is not None:
            query = query.where(Suppression.created >= start_time)
        if end_time is not None:
            query = query.where(Suppression.created <= end_time)
        pattern = containing(email)
        if pattern is not None:
            query = query.where(Suppression.email.like(pattern, escape="\\"))
        return query.order_by(Suppression.created.desc(), Suppression.id.desc())

    async def get_entry(self, account_id: str, name: ListName, email: str) -> list[Entry]:
        """SendGrid answers an array: empty when the address is not on the list."""
        async with self._sessions() as session:
            row = await session.scalar(self._one(account_id, name, email))
        return [] if row is None else [entry(name, row)]

    async def delete_entry(self, account_id: str, name: ListName, email: str) -> None:
        async with self._sessions() as session, session.begin():
            row = await session.scalar(self._one(account_id, name, email))
            if row is None:
                raise NotFound(f"{email} is not on the {name} list", field="email")
            await session.delete(row)

    async def delete_entries(
        self, account_id: str, name: ListName, emails: Sequence[str], delete_all: bool
    ) -> None:
        """`{"delete_all": true}` empties the list; `{"emails": [...]}` removes those."""
        if not delete_all and not emails:
            raise ValidationError("give delete_all: true or a list of emails", field="emails")
        async with self._sessions() as session, session.begin():
            query = delete(Suppression).where(
                Suppression.account_id == account_id,
                Suppression.list == name,
                Suppression.group_id == 0,
            )
            if not delete_all:
                query = query.where(Suppression.email.in_([e.lower() for e in emails]))
            await session.execute(query)

    async def add_global(self, account_id: str, emails: Sequence[str]) -> list[str]:
        """Add addresses to the global unsubscribes; an address already there stays as it was."""
        checked = addresses(emails, "recipient_emails")
        created = int(self._clock.time())
        async with self._sessions() as session, session.begin():
            rows = [manual_row(account_id, "unsubscribes", email, created) for email in checked]
            await upsert_rows(session, rows, replace=False)
        return checked

    async def is_global(self, account_id: str, email: str) -> bool:
        async with self._sessions() as session:
            return await session.scalar(self._one(account_id, "unsubscribes", email)) is not None

    async def lookup(
        self, account_id: str, emails: Collection[str], group_id: int | None
    ) -> dict[str, set[str]]:
        """For intake: lower-cased address → the lists it is on (GROUP for the send's own
        unsubscribe group), in one indexed SELECT per chunk of addresses."""
        wanted = sorted({e.lower() for e in emails})
        statement = self._lookup_any if group_id is None else self._lookup_group
        found: dict[str, set[str]] = {}
        async with self._sessions() as session:
            connection = await session.connection()  # Core rows: no ORM state per call
            for start in range(0, len(wanted), LOOKUP_CHUNK):
                params = {
                    "account_id": account_id,
                    "emails": wanted[start : start + LOOKUP_CHUNK],
                    "group_id": group_id,
                }
                for email, name in await connection.execute(statement, params):
                    found.setdefault(email, set()).add(name)
        return found

    async def require_group(self, account_id: str, group_id: int) -> None:
        """For intake: a send's asm.group_id must be one of the account's groups."""
        found = None
        if 0 < group_id < 2**63:  # what an SQL integer holds
            async with self._sessions() as session:
                found = await session.scalar(
                    select(AsmGroup.id).where(
                        AsmGroup.account_id == account_id, AsmGroup.id == group_id
                    )
                )
        if not found:
            raise ValidationError(
                f"The unsubscribe group {group_id} does not exist.", field="asm.group_id"
            )

    async def why(self, account_id: str, email: str) -> list[Why]:
        """Every entry for the address, on every list and group, with its cause."""
        address = email.lower()
        async with self._sessions() as session:
            rows = list(
                await session.execute(
                    select(Suppression, AsmGroup.name)
                    .outerjoin(AsmGroup, AsmGroup.id == Suppression.group_id)
                    .where(Suppression.account_id == account_id, Suppression.email == address)
                    .order_by(Suppression.created, Suppression.id)
                )
            )
            ids = [row.event_id for row, _ in rows if row.event_id]
            events = {
                e.event_id: e
                for e in await session.scalars(
                    select(EventRow).where(
                        EventRow.account_id == account_id, EventRow.event_id.in_(ids)
                    )
                )
            }
        return [_why(row, group_name, events.get(row.event_id or "")) for row, group_name in rows]

    @staticmethod
    def _one(account_id: str, name: str, email: str) -> Any:
        return select(Suppression).where(
            Suppression.account_id == account_id,
            Suppression.list == name,
            Suppression.group_id == 0,
            Suppression.email == email.lower(),
        )


def _why(row: Suppression, group_name: str | None, event: EventRow | None) -> Why:
    cause = None
    if row.event_id:
        data = event.data if event is not None else {}
        cause = Cause(
            event_id=row.event_id,
            type=event.event_type if event is not None else (row.event_type or ""),
            timestamp=event.timestamp if event is not None else row.created,
            message_id=row.message_id,
            reason=str(data.get("reason", row.reason)),
            status=str(data.get("status", row.status)),
        )
    return Why(
        list=row.list,
        group_id=row.group_id or None,
        group_name=group_name if row.group_id else None,
        created=row.created,
        reason=row.reason,
        status=row.status,
        source="event" if row.event_id else "api",
        event=cause,
    )
