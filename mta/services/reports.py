"""Received DMARC aggregate and TLS-RPT reports, per account: the parsed shapes the MX's
parsers produce, storing them for the account that owns their domain, and reading them back
(reports with their rows, and DMARC sources per day and source IP) for the API."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
from sqlalchemy import Select, case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker

from mta.core.clock import Clock, SystemClock
from mta.core.errors import ValidationError
from mta.core.model import new_id
from mta.db.models import Domain
from mta.db.report_models import DmarcRecordRow, DmarcReportRow, TlsReportRow
from mta.services.dns_records import normalise_domain
from mta.services.report_types import DmarcAggregate, DmarcRow, TlsPolicy, TlsReport

MAX_PAGE = 500
DEFAULT_PAGE = 50
MAX_SOURCE_DAYS = 366
MAX_SOURCES = 5000  # (day, source IP) pairs one answer holds, the busiest first


class DmarcReportView(msgspec.Struct, kw_only=True):
    id: str
    domain: str
    org_name: str
    email: str
    report_id: str
    date: str
    begin: int
    end: int
    received_at: int
    policy: dict[str, str]
    rows: list[DmarcRow]


class DmarcSource(msgspec.Struct, kw_only=True):
    """One source IP's messages on one day: how many, how many aligned (DKIM, SPF, either:
    `dmarc_pass`), and the dispositions the receivers applied."""

    date: str
    source_ip: str
    count: int
    dkim_aligned: int
    spf_aligned: int
    dmarc_pass: int
    dmarc_fail: int
    none: int
    quarantine: int
    reject: int


class TlsReportView(msgspec.Struct, kw_only=True):
    id: str
    domain: str
    org_name: str
    contact_info: str
    report_id: str
    date: str
    begin: int
    end: int
    received_at: int
    successful: int
    failed: int
    policies: list[TlsPolicy]


class DaySpan(msgspec.Struct, frozen=True):
    start: float  # Unix seconds, inclusive
    end: float  # exclusive


def day_of(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).date().isoformat()


def parse_span(start_date: str | None, end_date: str | None, today: dt.date) -> DaySpan:
    """The reports whose period begins between start_date and end_date (YYYY-MM-DD, both
    inclusive); by default the last 30 days."""
    end = _date(end_date, "end_date") if end_date else today
    start = _date(start_date, "start_date") if start_date else end - dt.timedelta(days=29)
    if start > end:
        raise ValidationError("start_date must not be after end_date", field="start_date")
    midnight = dt.datetime.combine(start, dt.time(), dt.UTC)
    after = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), dt.UTC)
    return DaySpan(midnight.timestamp(), after.timestamp())


def _date(text: str, field: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValidationError(f"{field} must be a date as YYYY-MM-DD", field=field) from None


def domain_filter(domain: str | None) -> str | None:
    if domain is None or domain == "":
        return None
    name = normalise_domain(domain)
    if name is None:
        raise ValidationError("invalid domain name", field="domain")
    return name


def page_size(limit: int | None, offset: int) -> int:
    if offset < 0:
        raise ValidationError("offset must be 0 or more", field="offset")
    if limit is None:
        return DEFAULT_PAGE
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationError(f"limit must be between 1 and {MAX_PAGE}", field="limit")
    return limit


class ReportStore:
    def __init__(self, sessions: async_sessionmaker[Any], clock: Clock | None = None) -> None:
        self._sessions = sessions
        self._clock = clock or SystemClock()

    def today(self) -> dt.date:
        return dt.datetime.fromtimestamp(self._clock.time(), dt.UTC).date()

    async def owner(self, domain: str) -> str | None:
        """The account that owns `domain`: the one that verified it, else its only claimant."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(Domain.account_id, Domain.verified).where(Domain.domain == domain.lower())
            )
            claims = list(rows)
        verified = [account for account, is_verified in claims if is_verified]
        if verified:
            return str(verified[0])
        return str(claims[0][0]) if len(claims) == 1 else None

    async def save_dmarc(self, account_id: str, report: DmarcAggregate) -> str | None:
        """The stored report's id; None when this reporter's report was stored already."""
        row = DmarcReportRow(
            id=new_id(),
            account_id=account_id,
            domain=report.domain,
            org_name=report.org_name[:200],
            email=report.email[:254],
            report_id=report.report_id[:200],
            begin=float(report.begin),
            end=float(report.end),
            received_at=self._clock.time(),
            policy=dict(report.policy),
        )
        day = day_of(report.begin)
        records = [_record_row(row, day, item) for item in report.rows]
        return await self._insert(row, *records)

    async def save_tls(self, account_id: str, report: TlsReport) -> str | None:
        row = TlsReportRow(
            id=new_id(),
            account_id=account_id,
            domain=report.domain,
            org_name=report.org_name[:200],
            contact_info=report.contact_info[:254],
            report_id=report.report_id[:200],
            begin=float(report.begin),
            end=float(report.end),
            received_at=self._clock.time(),
            successful=sum(policy.successful for policy in report.policies),
            failed=sum(policy.failed for policy in report.policies),
            policies=msgspec.to_builtins(report.policies),
        )
        return await self._insert(row)

    async def _insert(self, report: DmarcReportRow | TlsReportRow, *rows: Any) -> str | None:
        async with self._sessions() as session:
            session.add(report)
            try:
                await session.flush()  # the report before its records (the foreign key)
                session.add_all(rows)
                await session.commit()
            except IntegrityError:  # the reporter's same report_id, stored already
                return None
        return report.id

    async def dmarc_reports(
        self, account_id: str, domain: str | None, span: DaySpan, limit: int, offset: int
    ) -> list[DmarcReportView]:
        statement = _window(select(DmarcReportRow), DmarcReportRow, account_id, domain, span)
        statement = statement.order_by(DmarcReportRow.begin.desc(), DmarcReportRow.id)
        async with self._sessions() as session:
            reports = list(await session.scalars(statement.offset(offset).limit(limit)))
            records = await session.scalars(
                select(DmarcRecordRow)
                .where(DmarcRecordRow.report_id.in_([r.id for r in reports]))
                .order_by(DmarcRecordRow.id)
            )
        rows: dict[str, list[DmarcRow]] = {report.id: [] for report in reports}
        for record in records:
            rows[record.report_id].append(_row_view(record))
        return [_dmarc_view(report, rows[report.id]) for report in reports]

    async def dmarc_sources(
        self, account_id: str, domain: str | None, days: int
    ) -> list[DmarcSource]:
        """Per day and source IP over the last `days` days (today included), busiest first."""
        if not 1 <= days <= MAX_SOURCE_DAYS:
            raise ValidationError(f"days must be between 1 and {MAX_SOURCE_DAYS}", field="days")
        first = (self.today() - dt.timedelta(days=days - 1)).isoformat()
        record = DmarcRecordRow
        statement = select(record.day, record.source_ip, *_source_sums()).where(
            record.account_id == account_id, record.day >= first
        )
        if domain is not None:
            statement = statement.where(record.domain == domain)
        statement = (
            statement.group_by(record.day, record.source_ip)
            .order_by(record.day.desc(), func.sum(record.count).desc(), record.source_ip)
            .limit(MAX_SOURCES)
        )
        async with self._sessions() as session:
            found = await session.execute(statement)
        return [_source(*values) for values in found]

    async def tls_reports(
        self, account_id: str, domain: str | None, span: DaySpan, limit: int, offset: int
    ) -> list[TlsReportView]:
        statement = _window(select(TlsReportRow), TlsReportRow, account_id, domain, span)
        statement = statement.order_by(TlsReportRow.begin.desc(), TlsReportRow.id)
        async with self._sessions() as session:
            reports = await session.scalars(statement.offset(offset).limit(limit))
            return [_tls_view(report) for report in reports]


def _window(
    statement: Select[Any],
    table: type[DmarcReportRow] | type[TlsReportRow],
    account_id: str,
    domain: str | None,
    span: DaySpan,
) -> Select[Any]:
    statement = statement.where(
        table.account_id == account_id, table.begin >= span.start, table.begin < span.end
    )
    return statement if domain is None else statement.where(table.domain == domain)


def _record_row(report: DmarcReportRow, day: str, item: DmarcRow) -> DmarcRecordRow:
    return DmarcRecordRow(
        report_id=report.id,
        account_id=report.account_id,
        domain=report.domain,
        day=day,
        source_ip=item.source_ip[:64],
        count=item.count,
        disposition=item.disposition[:16],
        dkim=item.dkim[:16],
        spf=item.spf[:16],
        header_from=item.header_from[:253],
        auth={
            "envelope_from": item.envelope_from,
            "dkim": item.dkim_results,
            "spf": item.spf_results,
        },
    )


def _row_view(record: DmarcRecordRow) -> DmarcRow:
    auth = record.auth
    return DmarcRow(
        source_ip=record.source_ip,
        count=record.count,
        disposition=record.disposition,
        dkim=record.dkim,
        spf=record.spf,
        header_from=record.header_from,
        envelope_from=str(auth.get("envelope_from", "")),
        dkim_results=[str(x) for x in auth.get("dkim", [])],
        spf_results=[str(x) for x in auth.get("spf", [])],
    )


def _source_sums() -> list[Any]:
    record = DmarcRecordRow

    def counted(condition: Any) -> Any:
        return func.sum(case((condition, record.count), else_=0))

    dkim, spf = record.dkim == "pass", record.spf == "pass"
    return [
        func.sum(record.count),
        counted(dkim),
        counted(spf),
        counted(dkim | spf),
        counted(record.disposition == "none"),
        counted(record.disposition == "quarantine"),
        counted(record.disposition == "reject"),
    ]


def _source(day: str, source_ip: str, *sums: Any) -> DmarcSource:
    count, dkim, spf, passed, none, quarantine, reject = (int(value or 0) for value in sums)
    return DmarcSource(
        date=day,
        source_ip=source_ip,
        count=count,
        dkim_aligned=dkim,
        spf_aligned=spf,
        dmarc_pass=passed,
        dmarc_fail=count - passed,
        none=none,
        quarantine=quarantine,
        reject=reject,
    )


def _dmarc_view(report: DmarcReportRow, rows: list[DmarcRow]) -> DmarcReportView:
    return DmarcReportView(
        id=report.id,
        domain=report.domain,
        org_name=report.org_name,
        email=report.email,
        report_id=report.report_id,
        date=day_of(report.begin),
        begin=int(report.begin),
        end=int(report.end),
        received_at=int(report.received_at),
        policy={str(k): str(v) for k, v in report.policy.items()},
        rows=rows,
    )


def _tls_view(report: TlsReportRow) -> TlsReportView:
    return TlsReportView(
        id=report.id,
        domain=report.domain,
        org_name=report.org_name,
        contact_info=report.contact_info,
        report_id=report.report_id,
        date=day_of(report.begin),
        begin=int(report.begin),
        end=int(report.end),
        received_at=int(report.received_at),
        successful=report.successful,
        failed=report.failed,
        policies=msgspec.convert(report.policies, list[TlsPolicy]),
    )
