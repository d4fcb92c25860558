"""`/v3/user/dmarc/reports`, `/v3/user/dmarc/sources` and `/v3/user/tls_reports`: the DMARC
aggregate and TLS-RPT reports received for the caller's domains (ScaiSend's own routes)."""

from __future__ import annotations

from litestar import get
from litestar.di import NamedDependency
from litestar.params import FromQuery

from control.services import Services
from mta.services.identity import Principal
from mta.services.reports import (
    DmarcReportView,
    DmarcSource,
    TlsReportView,
    domain_filter,
    page_size,
    parse_span,
)

DEFAULT_SOURCE_DAYS = 30


@get("/v3/user/dmarc/reports", opt={"scope": "dmarc.read"})
async def dmarc_reports(
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
    domain: FromQuery[str | None] = None,
    start_date: FromQuery[str | None] = None,
    end_date: FromQuery[str | None] = None,
    limit: FromQuery[int | None] = None,
    offset: FromQuery[int] = 0,
) -> list[DmarcReportView]:
    reports = services.reports
    span = parse_span(start_date, end_date, reports.today())
    size = page_size(limit, offset)
    return await reports.dmarc_reports(
        principal.account_id, domain_filter(domain), span, size, offset
    )


@get("/v3/user/dmarc/sources", opt={"scope": "dmarc.read"})
async def dmarc_sources(
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
    domain: FromQuery[str | None] = None,
    days: FromQuery[int] = DEFAULT_SOURCE_DAYS,
) -> list[DmarcSource]:
    return await services.reports.dmarc_sources(principal.account_id, domain_filter(domain), days)


@get("/v3/user/tls_reports", opt={"scope": "tls_reports.read"})
async def tls_reports(
    services: NamedDependency[Services],
    principal: NamedDependency[Principal],
    domain: FromQuery[str | None] = None,
    start_date: FromQuery[str | None] = None,
    end_date: FromQuery[str | None] = None,
    limit: FromQuery[int | None] = None,
    offset: FromQuery[int] = 0,
) -> list[TlsReportView]:
    reports = services.reports
    span = parse_span(start_date, end_date, reports.today())
    size = page_size(limit, offset)
    return await reports.tls_reports(
        principal.account_id, domain_filter(domain), span, size, offset
    )


ROUTES = [dmarc_reports, dmarc_sources, tls_reports]
