"""Report mails through the inbound service into a real database (SQLite and PostgreSQL):
stored for the account owning the report's domain when sent to that account's report
address, read back per account only; unowned, misaddressed and hostile reports are logged
and stored nowhere, and a reporter's resend is stored once."""

from __future__ import annotations

import gzip
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from mta.core.dns import MxRecord, NxDomain
from mta.db.engine import create_schema, make_engine, make_sessionmaker
from mta.db.models import Account, Domain, InboundMessage
from mta.db.report_models import DmarcRecordRow, DmarcReportRow, TlsReportRow
from mta.db.sealed import Sealer, new_sealing_key, seal_with
from mta.events.bus import EventBus
from mta.inbound_mail.reports.archives import MAX_UNPACKED_BYTES
from mta.inbound_mail.reports.receive import ReportReceiver
from mta.inbound_mail.service import InboundService
from mta.services.domains import DomainService
from mta.services.reports import ReportStore, parse_span
from tests.support.clock import FakeClock
from tests.support.databases import Database
from tests.support.report_samples import dmarc_xml, gzipped, report_mail, tlsrpt_json, zipped

ACME, OTHER = "mail.acme.test", "mail.other.test"
DAY = 1764892800  # 2025-12-05, the samples' first day
TO_ACME = "dmarc@bounces.mail.acme.test"


class NoDns:
    async def mx(self, name: str) -> list[MxRecord]:
        raise NxDomain(name)

    async def txt(self, name: str) -> list[str]:
        raise NxDomain(name)

    async def addresses(self, name: str) -> list[str]:
        raise NxDomain(name)

    async def ptr(self, address: str) -> list[str]:
        raise NxDomain(address)


@dataclass
class World:
    sessions: Any
    service: InboundService
    store: ReportStore


def _domain(account: str, name: str) -> Domain:
    return Domain(
        id=f"d-{account}",
        account_id=account,
        domain=name,
        dkim_selector="s1",
        dkim_private_key="",
        dkim_public_key="",
        return_path_host=f"bounces.{name}",
        dmarc_policy="none",
        dmarc_rua_email=None,
        verified=True,
        verified_at=time.time(),
        created_at=time.time(),
    )


@pytest.fixture
async def world(tmp_path: Path, database: Database) -> AsyncIterator[World]:
    engine = seal_with(make_engine(database.engine_url(tmp_path)), Sealer([new_sealing_key()]))
    await create_schema(engine)
    sessions = make_sessionmaker(engine)
    async with sessions() as session:
        session.add_all([Account(id=a, name=a, created_at=time.time()) for a in ("acme", "other")])
        await session.flush()
        session.add_all([_domain("acme", ACME), _domain("other", OTHER)])
        await session.commit()
    bus = EventBus(sessions)
    domains = DomainService(sessions, NoDns(), "mx.test")
    store = ReportStore(sessions, FakeClock(DAY + 3600))
    receiver = ReportReceiver(store, domains, [])
    service = InboundService(sessions, domains, bus, [], None, reports=receiver)
    yield World(sessions, service, store)
    await engine.dispose()


async def _count(world: World, table: Any) -> int:
    async with world.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(table)) or 0)


async def _notes(world: World) -> list[tuple[str, str | None, str]]:
    async with world.sessions() as session:
        rows = await session.execute(
            select(InboundMessage.kind, InboundMessage.account_id, InboundMessage.note)
        )
        return [(kind, account, note) for kind, account, note in rows]


async def test_a_report_is_stored_for_its_domains_account_only(world: World) -> None:
    mail = report_mail(gzipped(dmarc_xml(ACME)), "application/gzip", "r.xml.gz")
    for _ in range(2):  # a reporter resending the same report
        await world.service.receive("noreply@google.com", [TO_ACME], mail)
    span = parse_span("2025-12-01", "2025-12-31", world.store.today())
    [report] = await world.store.dmarc_reports("acme", None, span, 50, 0)
    assert (report.domain, report.org_name, report.date) == (ACME, "google.com", "2025-12-05")
    assert [(r.source_ip, r.count, r.disposition) for r in report.rows] == [
        ("192.0.2.10", 12, "none"),
        ("203.0.113.66", 3, "quarantine"),
    ]
    assert await world.store.dmarc_reports("other", None, span, 50, 0) == []
    assert await world.store.dmarc_reports("acme", OTHER, span, 50, 0) == []
    assert await _count(world, DmarcReportRow) == 1 and await _count(world, DmarcRecordRow) == 2
    [first, second] = await _notes(world)
    assert first[:2] == second[:2] == ("dmarc-aggregate", "acme")
    assert first[2].endswith(": stored") and second[2].endswith("stored before (a resend)")

    sources = await world.store.dmarc_sources("acme", ACME, days=7)
    assert [(s.date, s.source_ip, s.count, s.dmarc_fail, s.quarantine) for s in sources] == [
        ("2025-12-05", "192.0.2.10", 12, 0, 0),
        ("2025-12-05", "203.0.113.66", 3, 3, 3),
    ]
    assert await world.store.dmarc_sources("other", None, days=7) == []


async def test_a_tls_report_is_stored_per_policy(world: World) -> None:
    mail = report_mail(gzipped(tlsrpt_json(ACME)), "application/tlsrpt+gzip", "t.json.gz")
    await world.service.receive("tls@company-x.example", ["tlsrpt@bounces.mail.acme.test"], mail)
    span = parse_span(None, None, world.store.today())
    [report] = await world.store.tls_reports("acme", ACME, span, 50, 0)
    assert (report.successful, report.failed, report.org_name) == (5326, 303, "Company-X")
    assert report.policies[0].failure_details[0].result_type == "certificate-expired"
    assert await world.store.tls_reports("other", None, span, 50, 0) == []


async def test_unowned_misaddressed_and_hostile_reports_are_stored_nowhere(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    unowned = report_mail(zipped("r.xml", dmarc_xml("nobody.example")), "application/zip", "r.zip")
    # the other account's domain, sent to acme's address: acme may not file it for them
    foreign = report_mail(gzipped(dmarc_xml(OTHER)), "application/gzip", "r.xml.gz")
    bomb = gzip.compress(b"\0" * (MAX_UNPACKED_BYTES + 1), compresslevel=9)
    hostile = report_mail(bomb, "application/gzip", "r.xml.gz")
    for mail in (unowned, foreign, hostile):
        await world.service.receive("x@reporter.example", [TO_ACME], mail)
    assert await _count(world, DmarcReportRow) == 0 and await _count(world, TlsReportRow) == 0
    notes = [note for _, account, note in await _notes(world) if account is None]
    assert len(notes) == 3
    assert "no account owns it" in notes[0] and "another account's host" in notes[1]
    assert "decompression bomb" in notes[2]
    assert "event=report_unowned kind=dmarc-aggregate domain=nobody.example" in caplog.text
    assert "event=report_misaddressed" in caplog.text and "event=report_refused" in caplog.text
