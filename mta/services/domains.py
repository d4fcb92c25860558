"""Sender domains: create with a fresh DKIM key, list the DNS records to publish, verify them.

Verification asks the configured resolver for every record and keeps the result.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

import msgspec
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mta.core.clock import Clock, SystemClock
from mta.core.dns import DnsError, NxDomain, Resolver
from mta.core.errors import Conflict, NotFound, ValidationError
from mta.core.model import new_id
from mta.core.ttl_cache import SHARED_CACHE_SECONDS, TtlCache
from mta.db.models import Domain
from mta.services.dns_records import (
    DKIM_SELECTOR,
    DnsRecord,
    check_record,
    expected_records,
    generate_dkim_key,
    normalise_domain,
    return_path_host,
)

DmarcPolicy = Literal["none", "quarantine", "reject"]
SENDING_CACHE_SECONDS = SHARED_CACHE_SECONDS  # another node's change holds here after it


class DomainView(msgspec.Struct, kw_only=True):
    id: str
    domain: str
    verified: bool
    dkim_selector: str
    return_path_host: str
    dns_records: list[DnsRecord]
    created_at: float


class DomainService:
    def __init__(
        self,
        sessions: async_sessionmaker[Any],
        resolver: Resolver,
        smtp_hostname: str,
        clock: Clock | None = None,
    ) -> None:
        self._sessions = sessions
        self._resolver = resolver
        self._hostname = smtp_hostname
        self._clock = clock or SystemClock()
        # a verify or create here clears it at once
        self._sending: TtlCache[tuple[str, str], Domain | None] = TtlCache(
            SENDING_CACHE_SECONDS, clock=self._clock
        )

    def records(self, row: Domain) -> list[DnsRecord]:
        return expected_records(
            domain=row.domain,
            selector=row.dkim_selector,
            public_key_b64=row.dkim_public_key,
            rp_host=row.return_path_host,
            smtp_hostname=self._hostname,
            dmarc_policy=row.dmarc_policy,
            dmarc_rua_email=row.dmarc_rua_email,
        )

    def view(self, row: Domain, records: list[DnsRecord] | None = None) -> DomainView:
        return DomainView(
            id=row.id,
            domain=row.domain,
            verified=row.verified,
            dkim_selector=row.dkim_selector,
            return_path_host=row.return_path_host,
            dns_records=records or self.records(row),
            created_at=row.created_at,
        )

    async def create(
        self, account_id: str, domain: str, dmarc_policy: DmarcPolicy, dmarc_rua_email: str | None
    ) -> DomainView:
        name = normalise_domain(domain)
        if name is None:
            raise ValidationError("invalid domain name", field="domain")
        if dmarc_rua_email is not None and "@" not in dmarc_rua_email:
            raise ValidationError("invalid email address", field="dmarc_rua_email")
        key = await asyncio.to_thread(generate_dkim_key)
        row = Domain(
            id=new_id(),
            account_id=account_id,
            domain=name,
            dkim_selector=DKIM_SELECTOR,
            dkim_private_key=key.private_pem,
            dkim_public_key=key.public_b64,
            return_path_host=return_path_host(name),
            dmarc_policy=dmarc_policy,
            dmarc_rua_email=dmarc_rua_email,
            verified=False,
            verified_at=None,
            created_at=self._clock.time(),
        )
        async with self._sessions() as session:
            session.add(row)
            try:
                await session.commit()
            except IntegrityError:
                raise Conflict(f"domain {name} already exists", field="domain") from None
        self._sending.clear()
        return self.view(row)

    async def list(
        self, account_id: str, limit: int | None = None, offset: int = 0
    ) -> list[DomainView]:
        """The account's domains, oldest first; a page of them with `limit` and `offset`."""
        statement = (
            select(Domain)
            .where(Domain.account_id == account_id)
            .order_by(Domain.created_at, Domain.id)
            .offset(offset)
            .limit(limit)
        )
        async with self._sessions() as session:
            return [self.view(row) for row in await session.scalars(statement)]

    async def get_row(self, account_id: str, domain_id: str) -> Domain:
        async with self._sessions() as session:
            row: Domain | None = await session.get(Domain, domain_id)
        if row is None or row.account_id != account_id:
            raise NotFound("domain not found")
        return row

    async def get(self, account_id: str, domain_id: str) -> DomainView:
        return self.view(await self.get_row(account_id, domain_id))

    async def verify(self, account_id: str, domain_id: str) -> DomainView:
        """Check the records; a domain (or one under it) another account verified first is
        that account's alone (409), whatever the DNS says."""
        row = await self.get_row(account_id, domain_id)
        checked = [await self._check(record) for record in self.records(row)]
        verified = all(record.valid for record in checked)
        async with self._sessions() as session:
            if verified and await _owned_elsewhere(session, account_id, row.domain):
                raise Conflict(OWNED_ELSEWHERE.format(row.domain), field="domain")
            stored = await session.get(Domain, domain_id)
            assert stored is not None
            stored.verified = verified
            stored.verified_at = self._clock.time() if verified else None
            try:
                await session.commit()
            except IntegrityError:  # verified by another account at the same moment
                raise Conflict(OWNED_ELSEWHERE.format(row.domain), field="domain") from None
            self._sending.clear()
            return self.view(stored, checked)

    async def _check(self, record: DnsRecord) -> DnsRecord:
        try:
            if record.type == "MX":
                published = [
                    f"{mx.preference} {mx.host}" for mx in await self._resolver.mx(record.host)
                ]
            else:
                published = await self._resolver.txt(record.host)
        except NxDomain:  # the name does not exist: no record there, as with no data
            published = []
        except DnsError as exc:
            return msgspec.structs.replace(
                record, valid=False, reason=f"lookup failed: {exc.__class__.__name__}"
            )
        valid, reason = check_record(record, published)
        return msgspec.structs.replace(record, valid=valid, reason=reason, found=published)

    async def sending_domain(self, account_id: str, domain: str) -> Domain | None:
        """The account's domain row, cached briefly: intake asks for every message."""
        return await self._sending.get_or_load(
            (account_id, domain.lower()), lambda: self._load_sending_domain(account_id, domain)
        )

    async def _load_sending_domain(self, account_id: str, domain: str) -> Domain | None:
        async with self._sessions() as session:
            row: Domain | None = await session.scalar(
                select(Domain).where(
                    Domain.account_id == account_id, Domain.domain == domain.lower()
                )
            )
            return row

    async def by_return_path_host(self, host: str) -> Domain | None:
        async with self._sessions() as session:
            row: Domain | None = await session.scalar(
                select(Domain)
                .where(Domain.return_path_host == host.lower())
                .order_by(Domain.verified.desc())  # the owner's, when several accounts hold it
                .limit(1)
            )
            return row


OWNED_ELSEWHERE = "domain {} is verified by another account: a domain belongs to one account"


async def _owned_elsewhere(session: AsyncSession, account_id: str, name: str) -> bool:
    """Whether another account verified this domain or one it lies under."""
    labels = name.split(".")
    candidates = [".".join(labels[i:]) for i in range(len(labels) - 1)]
    found = await session.scalar(
        select(Domain.id)
        .where(Domain.verified.is_(True), Domain.account_id != account_id)
        .where(Domain.domain.in_(candidates))
        .limit(1)
    )
    return found is not None
