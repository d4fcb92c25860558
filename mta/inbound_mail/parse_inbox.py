"""Inbound Parse mail kept durably from the MX's 250 until posted: which recipient domains
are parse hostnames, storing a message per setting, claiming due ones and recording each
attempt (retried with backoff for up to three days)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import msgspec
from sqlalchemy import Integer, cast, func, select, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from mta.core.clock import Clock, SystemClock
from mta.core.errors import NotFound
from mta.core.model import new_id
from mta.core.ttl_cache import SHARED_CACHE_SECONDS, TtlCache
from mta.db.parse_models import ParseMessage, ParseSetting
from mta.inbound_mail.parse_form import ParseEnvelope
from mta.inbound_mail.parse_settings import ParseSettingsService
from mta.services.stats import DateStats, StatEntry, StatsRange, bucket, buckets

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
EPOCH = date(1970, 1, 1)


class Retries(msgspec.Struct, frozen=True):
    """`[inbound] parse_retry_schedule_seconds`, how long after arrival to give up, and how
    long a claimed message is its poster's (longer than a post may take: a message in
    flight at a crash is posted again once its lease ends)."""

    schedule: list[int]
    give_up_seconds: float
    lease_seconds: float


class Claimed(msgspec.Struct, frozen=True):
    """A message to post now, with what its setting says."""

    id: str
    hostname: str
    url: str
    send_raw: bool
    spam_check: bool
    envelope: ParseEnvelope
    raw: bytes
    attempts: int


class Attempt(msgspec.Struct, frozen=True):
    """How one post went: the HTTP status, or the error when there was none."""

    id: str
    status: int | None
    error: str

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class ParseDelivery(msgspec.Struct, kw_only=True):
    """One received message in the account's parse delivery log."""

    id: str
    hostname: str
    received_at: int
    mail_from: str
    to: list[str]
    size: int
    status: str
    attempts: int
    last_attempt_at: int | None
    last_status: int | None
    last_error: str
    next_attempt_at: int | None


def next_try(schedule: list[int], attempts: int, now: float, gives_up_at: float) -> float | None:
    """When to try again after `attempts` failed posts; None once past giving up."""
    delay = schedule[min(attempts, len(schedule)) - 1]
    return None if now + delay > gives_up_at else now + delay


class ParseInbox:
    def __init__(
        self,
        sessions: async_sessionmaker[Any],
        settings: ParseSettingsService,
        retries: Retries,
        clock: Clock | None = None,
    ) -> None:
        self._sessions = sessions
        self._retries = retries
        self._settings = settings
        self._clock = clock or SystemClock()
        self._hosts: TtlCache[str, bool] = TtlCache(SHARED_CACHE_SECONDS, clock=self._clock)
        self.arrived = asyncio.Event()  # set when mail is stored: the poster wakes

    async def is_parse_host(self, domain: str) -> bool:
        host = domain.lower().rstrip(".")
        return await self._hosts.get_or_load(host, lambda: self._has_setting(host))

    async def _has_setting(self, host: str) -> bool:
        return await self._settings.for_hostname(host) is not None

    async def store(self, envelope: ParseEnvelope, data: bytes) -> list[str]:
        """One row per parse hostname among the recipients, committed before returning
        (the MX answers 250 after this); the ids stored."""
        by_host: dict[str, list[str]] = {}
        for rcpt in envelope.rcpt_tos:
            by_host.setdefault(rcpt.rpartition("@")[2].lower().rstrip("."), []).append(rcpt)
        now, stored = self._clock.time(), []
        async with self._sessions() as session, session.begin():
            for host, rcpts in by_host.items():
                setting: ParseSetting | None = await session.get(ParseSetting, host)
                if setting is None:
                    continue  # deleted since RCPT: refused at the next message
                stored.append(new_id())
                row = _row(stored[-1], setting, envelope, rcpts, data, now)
                row.gives_up_at = now + self._retries.give_up_seconds
                session.add(row)
        self.arrived.set()
        return stored

    async def claim(self, limit: int) -> list[Claimed]:
        """Due messages, each leased to this caller (another worker skips it meanwhile)."""
        now = self._clock.time()
        async with self._sessions() as session, session.begin():
            due = await session.scalars(
                select(ParseMessage.id)
                .where(ParseMessage.status == PENDING, ParseMessage.next_attempt_at <= now)
                .where(ParseMessage.lease_until <= now)
                .order_by(ParseMessage.next_attempt_at)
                .limit(limit)
            )
            claimed = []
            for message_id in due.all():
                taken = await session.execute(
                    update(ParseMessage)
                    .where(ParseMessage.id == message_id, ParseMessage.lease_until <= now)
                    .values(lease_until=now + self._retries.lease_seconds)
                )
                if taken.rowcount == 1:
                    claimed.append(message_id)
            return [await self._claimed(session, message_id) for message_id in claimed]

    async def _claimed(self, session: Any, message_id: str) -> Claimed:
        row: ParseMessage = await session.get(ParseMessage, message_id)
        setting: ParseSetting | None = await session.get(ParseSetting, row.hostname)
        envelope = ParseEnvelope(
            mail_from=row.mail_from, rcpt_tos=row.rcpt, sender_ip=row.sender_ip
        )
        return Claimed(
            id=row.id,
            hostname=row.hostname,
            url=setting.url if setting is not None else "",
            send_raw=setting.send_raw if setting is not None else False,
            spam_check=setting.spam_check if setting is not None else False,
            envelope=envelope,
            raw=row.raw,
            attempts=row.attempts,
        )

    async def record(self, attempt: Attempt) -> None:
        now = self._clock.time()
        async with self._sessions() as session, session.begin():
            row: ParseMessage | None = await session.get(ParseMessage, attempt.id)
            if row is None:
                return
            row.attempts += 1
            row.last_attempt_at, row.last_status = now, attempt.status
            row.last_error, row.lease_until = attempt.error[:500], 0.0
            if attempt.delivered:
                row.status = DELIVERED
                return
            retry = next_try(self._retries.schedule, row.attempts, now, row.gives_up_at)
            row.status = PENDING if retry is not None else FAILED
            row.next_attempt_at = retry if retry is not None else now

    async def next_due_in(self) -> float:
        """Seconds until the next pending message is due (60 when there is none)."""
        async with self._sessions() as session:
            due = await session.scalar(
                select(func.min(ParseMessage.next_attempt_at)).where(ParseMessage.status == PENDING)
            )
        return 60.0 if due is None else max(0.0, float(due) - self._clock.time())

    async def deliveries(self, account_id: str, limit: int, offset: int) -> list[ParseDelivery]:
        """The account's received parse mail, newest first."""
        async with self._sessions() as session:
            rows = await session.scalars(
                select(ParseMessage)
                .where(ParseMessage.account_id == account_id)
                .order_by(ParseMessage.received_at.desc(), ParseMessage.id)
                .limit(limit)
                .offset(offset)
            )
            return [_delivery(row) for row in rows]

    async def received_per_day(self, account_id: str, span: StatsRange) -> list[DateStats]:
        """SendGrid's parse stats: messages received per day, week or month (UTC)."""
        first = datetime.combine(span.start, time(), UTC).timestamp()
        after = datetime.combine(span.end + timedelta(days=1), time(), UTC).timestamp()
        day = cast(ParseMessage.received_at / 86_400, Integer)
        async with self._sessions() as session:
            rows = await session.execute(
                select(day, func.count())
                .where(ParseMessage.account_id == account_id)
                .where(ParseMessage.received_at >= first, ParseMessage.received_at < after)
                .group_by(day)
            )
            counts: dict[date, int] = {}
            for n, count in rows.all():
                key = bucket(EPOCH + timedelta(days=int(n)), span)
                counts[key] = counts.get(key, 0) + int(count)
        return [
            DateStats(
                date=day.isoformat(), stats=[StatEntry(metrics={"received": counts.get(day, 0)})]
            )
            for day in buckets(span)
        ]

    async def redeliver(self, account_id: str, message_id: str) -> ParseDelivery:
        """Post the message again now, with its retries counted from now."""
        now = self._clock.time()
        async with self._sessions() as session, session.begin():
            row: ParseMessage | None = await session.get(ParseMessage, message_id)
            if row is None or row.account_id != account_id:
                raise NotFound(f"no parse message {message_id}")
            row.status, row.next_attempt_at = PENDING, now
            row.gives_up_at, row.lease_until = now + self._retries.give_up_seconds, 0.0
            view = _delivery(row)
        self.arrived.set()
        return view


def received_on(day: date, count: int) -> DateStats:
    return DateStats(date=day.isoformat(), stats=[StatEntry(metrics={"received": count})])


def _row(
    message_id: str,
    setting: ParseSetting,
    envelope: ParseEnvelope,
    rcpts: list[str],
    data: bytes,
    now: float,
) -> ParseMessage:
    return ParseMessage(
        id=message_id,
        account_id=setting.account_id,
        hostname=setting.hostname,
        received_at=now,
        mail_from=envelope.mail_from[:254],
        rcpt=rcpts,
        sender_ip=envelope.sender_ip,
        size=len(data),
        raw=data,
        status=PENDING,
        attempts=0,
        next_attempt_at=now,
        gives_up_at=now,
        lease_until=0.0,
        last_attempt_at=None,
        last_status=None,
        last_error="",
    )


def _delivery(row: ParseMessage) -> ParseDelivery:
    return ParseDelivery(
        id=row.id,
        hostname=row.hostname,
        received_at=int(row.received_at),
        mail_from=row.mail_from,
        to=list(row.rcpt),
        size=row.size,
        status=row.status,
        attempts=row.attempts,
        last_attempt_at=None if row.last_attempt_at is None else int(row.last_attempt_at),
        last_status=row.last_status,
        last_error=row.last_error,
        next_attempt_at=int(row.next_attempt_at) if row.status == PENDING else None,
    )
