"""The MX's report receiver: parses a DMARC or TLS-RPT report mail off the event loop and
stores it for the account owning the report's domain, when it came to that account's report
address (or a configured inbound domain's); anything else is logged and stored nowhere."""

from __future__ import annotations

import asyncio
import logging

import msgspec

from mta.inbound_mail.reports.archives import ReportRefused
from mta.inbound_mail.reports.extract import ReportKind, parse_report_mail
from mta.services.domains import DomainService
from mta.services.report_types import DmarcAggregate
from mta.services.reports import ReportStore

log = logging.getLogger(__name__)


class Received(msgspec.Struct, kw_only=True):
    """What became of one report mail: the account it was stored for, or why not (`note`)."""

    account_id: str | None = None
    note: str = ""


class ReportReceiver:
    def __init__(
        self, store: ReportStore, domains: DomainService, inbound_domains: list[str]
    ) -> None:
        self._store = store
        self._domains = domains
        self._static = frozenset(d.lower().rstrip(".") for d in inbound_domains)

    async def receive(self, kind: ReportKind, rcpt_tos: list[str], data: bytes) -> Received:
        try:
            report = await asyncio.to_thread(parse_report_mail, kind, data)
        except ReportRefused as exc:
            log.warning("event=report_refused kind=%s reason=%r", kind, str(exc))
            return Received(note=f"{kind} refused: {exc}")
        account_id = await self._store.owner(report.domain)
        if account_id is None:
            log.warning("event=report_unowned kind=%s domain=%s", kind, report.domain)
            return Received(note=f"{kind} for {report.domain}: no account owns it, not stored")
        if not await self._addressed_to(account_id, rcpt_tos):
            log.warning(
                "event=report_misaddressed kind=%s domain=%s rcpt=%s",
                kind,
                report.domain,
                ",".join(rcpt_tos),
            )
            return Received(note=f"{kind} for {report.domain} sent to another account's host")
        if isinstance(report, DmarcAggregate):
            stored = await self._store.save_dmarc(account_id, report)
        else:
            stored = await self._store.save_tls(account_id, report)
        what = f"{kind} {report.report_id!r} from {report.org_name!r} for {report.domain}"
        log.info("event=report_stored kind=%s domain=%s id=%s", kind, report.domain, stored)
        done = "stored" if stored else "stored before (a resend)"
        return Received(account_id=account_id, note=f"{what}: {done}")

    async def _addressed_to(self, account_id: str, rcpt_tos: list[str]) -> bool:
        """Whether a recipient's host is a configured inbound domain or one of the account's
        own return-path hosts: another account's report address does not take it."""
        for rcpt in rcpt_tos:
            host = rcpt.rpartition("@")[2].lower().rstrip(".")
            if host in self._static:
                return True
            domain = await self._domains.by_return_path_host(host)
            if domain is not None and domain.account_id == account_id:
                return True
        return False
