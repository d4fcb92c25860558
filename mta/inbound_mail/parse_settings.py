"""Inbound Parse settings (SendGrid's `/v3/user/webhooks/parse/settings`): which hostname's
mail is posted to which URL, for the account that verified the domain it is under."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import idna
import msgspec
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mta.core.clock import Clock, SystemClock
from mta.core.errors import Conflict, NotFound, ValidationError
from mta.db.models import Domain
from mta.db.parse_models import ParseSetting

MAX_HOSTNAMES = 100  # per account
NO_SCANNER = (
    "spam_check needs a spam scanner and none is configured: set [inbound] spamd "
    "(host:port of a spamd) or leave spam_check false"
)


class ParseSettingView(msgspec.Struct, kw_only=True):
    """SendGrid's parse setting object."""

    url: str
    hostname: str
    spam_check: bool
    send_raw: bool


class ParseChanges(msgspec.Struct, kw_only=True):
    url: str | None = None
    spam_check: bool | None = None
    send_raw: bool | None = None


def view(row: ParseSetting) -> ParseSettingView:
    return ParseSettingView(
        url=row.url, hostname=row.hostname, spam_check=row.spam_check, send_raw=row.send_raw
    )


def hostname_of(given: str) -> str:
    """The hostname in its lower-case IDNA form, or a 400 naming `hostname`."""
    name = given.strip().rstrip(".")
    if not name or "." not in name or "@" in name or "/" in name or " " in name:
        raise ValidationError(
            "hostname must be a host name such as parse.example.com", field="hostname"
        )
    try:
        return str(idna.encode(name, uts46=True).decode("ascii")).lower()
    except (idna.IDNAError, UnicodeError) as exc:
        problem = f"hostname {name!r} is not a valid host name: {exc}"
        raise ValidationError(problem, field="hostname") from None


def under(hostname: str, domain: str) -> bool:
    return hostname == domain or hostname.endswith("." + domain)


class ParseSettingsService:
    """The account's parse hostnames; `check_url` is the webhook SSRF guard (400 on a URL
    that may not be posted to), `spam_scanner` whether `[inbound] spamd` is set."""

    def __init__(
        self,
        sessions: async_sessionmaker[Any],
        check_url: Callable[[str], str],
        spam_scanner: bool,
        clock: Clock | None = None,
    ) -> None:
        self._sessions = sessions
        self._check_url = check_url
        self._spam_scanner = spam_scanner
        self._clock = clock or SystemClock()

    async def create(
        self, account_id: str, hostname: str, url: str, spam_check: bool, send_raw: bool
    ) -> ParseSettingView:
        host = hostname_of(hostname)
        row = ParseSetting(
            hostname=host,
            account_id=account_id,
            url=self._check_url(url),
            spam_check=self._spam_check(spam_check),
            send_raw=send_raw,
            created_at=self._clock.time(),
        )
        async with self._sessions() as session:
            await self._check_domain(session, account_id, host)
            owned = await session.scalar(
                select(ParseSetting.account_id).where(ParseSetting.hostname == host)
            )
            if owned is not None:
                raise Conflict(f"hostname {host} already has a parse setting", field="hostname")
            mine = await session.scalars(
                select(ParseSetting.hostname).where(ParseSetting.account_id == account_id)
            )
            if len(mine.all()) >= MAX_HOSTNAMES:
                raise ValidationError(f"at most {MAX_HOSTNAMES} parse hostnames", field="hostname")
            session.add(row)
            try:
                await session.commit()
            except IntegrityError:  # another request took it meanwhile
                taken = f"hostname {host} already has a parse setting"
                raise Conflict(taken, field="hostname") from None
        return view(row)

    async def list(self, account_id: str) -> list[ParseSettingView]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(ParseSetting)
                .where(ParseSetting.account_id == account_id)
                .order_by(ParseSetting.hostname)
            )
            return [view(row) for row in rows]

    async def get(self, account_id: str, hostname: str) -> ParseSettingView:
        async with self._sessions() as session:
            return view(await _mine(session, account_id, hostname))

    async def update(
        self, account_id: str, hostname: str, changes: ParseChanges
    ) -> ParseSettingView:
        url = None if changes.url is None else self._check_url(changes.url)
        spam_check = None if changes.spam_check is None else self._spam_check(changes.spam_check)
        async with self._sessions() as session, session.begin():
            row = await _mine(session, account_id, hostname)
            row.url = url or row.url
            row.spam_check = row.spam_check if spam_check is None else spam_check
            row.send_raw = row.send_raw if changes.send_raw is None else changes.send_raw
            return view(row)

    async def delete(self, account_id: str, hostname: str) -> None:
        async with self._sessions() as session, session.begin():
            row = await _mine(session, account_id, hostname)
            await session.execute(delete(ParseSetting).where(ParseSetting.hostname == row.hostname))

    async def for_hostname(self, hostname: str) -> ParseSetting | None:
        """The setting of a hostname the MX received mail for, whoever's it is."""
        async with self._sessions() as session:
            row: ParseSetting | None = await session.get(ParseSetting, hostname.lower())
            return row

    def _spam_check(self, wanted: bool) -> bool:
        if wanted and not self._spam_scanner:
            raise ValidationError(NO_SCANNER, field="spam_check")
        return wanted

    async def _check_domain(self, session: AsyncSession, account_id: str, host: str) -> None:
        """The hostname must be, or be under, one of the account's verified domains."""
        domains = await session.scalars(
            select(Domain.domain).where(Domain.account_id == account_id, Domain.verified)
        )
        if not any(under(host, domain) for domain in domains):
            raise ValidationError(
                f"hostname {host} is not under a verified domain of this account: verify "
                "the domain (or the one it is under) first",
                field="hostname",
            )
        bounces = await session.scalar(select(Domain.domain).where(Domain.return_path_host == host))
        if bounces is not None:
            raise ValidationError(
                f"hostname {host} is the return path of {bounces}: its bounces come there",
                field="hostname",
            )


async def _mine(session: AsyncSession, account_id: str, hostname: str) -> ParseSetting:
    host = hostname.strip().rstrip(".").lower()
    row: ParseSetting | None = await session.get(ParseSetting, host)
    if row is None or row.account_id != account_id:
        raise NotFound(f"no parse setting for hostname {host}")
    return row
