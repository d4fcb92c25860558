"""Signed return paths over the real MX listener on loopback (aiosmtpd), the real inbound
service on a real database, DKIM keys on a real DNS server: forged, unsigned, re-indexed or
cross-account return paths suppress nobody; a valid MAC (also under a rotated key) does;
DMARC failure reports are no complaints; an FBL report counts only when its From domain
signed it."""

from __future__ import annotations

import ssl
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import dkim
import pytest
from sqlalchemy import select

from config.settings import DnsSettings
from mta.core.dns import DnsResolver
from mta.core.return_path import ReturnPathKeys, new_key, verp_address
from mta.db.engine import create_schema, make_engine, make_sessionmaker
from mta.db.models import Account, InboundMessage, Suppression
from mta.db.models import Event as EventRow
from mta.db.sealed import Sealer, new_sealing_key, seal_with
from mta.events.bus import EventBus
from mta.inbound_mail.service import InboundService
from mta.listeners.servers import bound_port, close_listeners, start_listeners
from mta.services.dns_records import generate_dkim_key
from mta.services.domains import DomainService
from mta.services.suppression_sink import SuppressionSink
from tests.support.databases import Database
from tests.support.dns_server import DnsServer, txt_value
from tests.support.servers import nameserver_of
from tests.unit.mta.inbound_mail.test_service import (
    ACME_RP,
    OTHER_RP,
    _domain,
    _message,
    arf,
    dsn,
    original,
)
from tests.unit.mta.listeners.support import (
    FakeIntake,
    FakeKeys,
    client,
    loopback_settings,
    make_tls,
)
from tests.unit.mta.server.test_corpus import CORPUS

OLD_KEY, NEW_KEY = new_key(), new_key()
ROTATED = ReturnPathKeys((NEW_KEY, OLD_KEY))  # the new key signs, the old still verifies
FBL = "fbl@fbl.scaisend.test"
ACME_MSG, OTHER_MSG = "018f0000000000aaaabbbbccccd", "018f0000000000eeeeffff00001"


@dataclass
class Mx:
    port: int
    sessions: Any
    dns: DnsServer


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    return make_tls(tmp_path_factory.mktemp("tls"))


@pytest.fixture
async def mx(
    tmp_path: Path, database: Database, dns_server: DnsServer, tls: ssl.SSLContext
) -> AsyncIterator[Mx]:
    engine = seal_with(make_engine(database.engine_url(tmp_path)), Sealer([new_sealing_key()]))
    await create_schema(engine)
    sessions = make_sessionmaker(engine)
    async with sessions() as session:
        session.add_all([Account(id=a, name=a, created_at=time.time()) for a in ("acme", "other")])
        await session.flush()
        session.add_all([_domain("acme", ACME_RP), _domain("other", OTHER_RP)])
        session.add_all(_message(ACME_MSG, "acme", ["ada@example.com", "bob@example.com"]))
        session.add_all(_message(OTHER_MSG, "other", ["cy@example.com"]))
        await session.commit()
    resolver = DnsResolver(DnsSettings(nameservers=[nameserver_of(dns_server)]))
    bus = EventBus(sessions)
    bus.add_sink(SuppressionSink())
    bus.start()
    domains = DomainService(sessions, resolver, "mx.test")
    inbound = InboundService(
        sessions, domains, bus, [], resolver, return_path_keys=ROTATED, fbl_addresses=[FBL]
    )
    servers = await start_listeners(loopback_settings(), tls, FakeIntake(), FakeKeys(), inbound)
    try:
        yield Mx(bound_port(servers[2]), sessions, dns_server)
    finally:
        await close_listeners(servers)
        await bus.stop()
        await engine.dispose()


def signed(index: int, message_id: str = ACME_MSG, host: str = ACME_RP, key: str = NEW_KEY) -> str:
    return verp_address(message_id, index, host, ReturnPathKeys((key,)))


async def deliver(mx: Mx, mail_from: str, rcpt: str, data: bytes) -> None:
    async with client(mx.port, start_tls=False) as smtp:
        await smtp.mail(mail_from)
        code, _ = await smtp.rcpt(rcpt)
        assert code == 250
        reply = await smtp.data(data)
        assert reply.code == 250


async def outcome(mx: Mx) -> tuple[list[tuple[str, str]], list[tuple[str, str, str]]]:
    """(events as (type, email), suppressions as (account, list, email))."""
    async with mx.sessions() as session:
        events = await session.scalars(select(EventRow).order_by(EventRow.timestamp))
        listed = await session.scalars(select(Suppression).order_by(Suppression.id))
        return (
            [(e.event_type, e.email) for e in events],
            [(s.account_id, s.list, s.email) for s in listed],
        )


async def last_row(mx: Mx) -> InboundMessage:
    async with mx.sessions() as session:
        rows = await session.scalars(select(InboundMessage).order_by(InboundMessage.id))
        return list(rows)[-1]


BOUNCE_BOB = dsn(("bob@example.com", "failed", "5.1.1"))


@pytest.mark.parametrize(
    ("rcpt", "why"),
    [
        (f"bounces+{ACME_MSG}.1@{ACME_RP}", "unsigned return path"),  # the old, guessable form
        (signed(0).replace(f"{ACME_MSG}.0.", f"{ACME_MSG}.1."), "bad MAC"),  # ada's, re-indexed
        (signed(1, key=new_key()), "bad MAC"),  # another install's key
        (f"postmaster@{ACME_RP}", "not trusted"),  # headers alone
    ],
    ids=["unsigned", "re-indexed", "foreign-key", "headers-only"],
)
async def test_a_forged_bounce_suppresses_nobody(mx: Mx, rcpt: str, why: str) -> None:
    sent = original(message_id=ACME_MSG, to="bob@example.com")
    await deliver(mx, "", rcpt, dsn(("bob@example.com", "failed", "5.1.1"), attach=sent))
    assert await outcome(mx) == ([], [])
    row = await last_row(mx)
    assert (row.kind, row.message_id, row.events) == ("dsn", None, [])
    assert why in row.note


@pytest.mark.parametrize("key", [NEW_KEY, OLD_KEY], ids=["new-key", "old-key"])
async def test_a_bounce_to_a_signed_return_path_suppresses_its_recipient(mx: Mx, key: str) -> None:
    await deliver(mx, "", signed(1, key=key).upper(), BOUNCE_BOB)
    assert await outcome(mx) == (
        [("bounce", "bob@example.com")],
        [("acme", "bounces", "bob@example.com")],
    )
    assert (await last_row(mx)).events == ["bounce"]


async def test_one_recipient_cannot_bounce_another(mx: Mx) -> None:
    # ada's own valid return path, a DSN naming bob
    await deliver(mx, "", signed(0), BOUNCE_BOB)
    assert await outcome(mx) == ([], [])


async def test_a_signed_return_path_under_another_account_s_host_gives_nothing(mx: Mx) -> None:
    await deliver(mx, "", signed(0, message_id=ACME_MSG, host=OTHER_RP), BOUNCE_BOB)
    await deliver(mx, "", signed(0, message_id=OTHER_MSG, host=ACME_RP), BOUNCE_BOB)
    assert await outcome(mx) == ([], [])
    assert "foreign" in (await last_row(mx)).note


async def test_a_dmarc_failure_report_is_not_a_spam_report(mx: Mx) -> None:
    report = arf(original(message_id=ACME_MSG, to="bob@example.com")).replace(
        b"Feedback-Type: abuse", b"Feedback-Type: auth-failure"
    )
    await deliver(mx, "dmarc@isp.example.net", signed(1), report)
    await deliver(mx, "dmarc@isp.example.net", FBL, report)
    assert await outcome(mx) == ([], [])
    row = await last_row(mx)
    assert (row.kind, row.events) == ("auth-failure", [])


def fbl_report(return_path: str) -> bytes:
    sent: EmailMessage = original(message_id=ACME_MSG, to="redacted@example.com")
    sent["Return-Path"] = f"<{return_path}>"
    return arf(sent, rcpt=None).replace(b"\n", b"\r\n")


def sign(mx: Mx, data: bytes, domain: str) -> bytes:
    """`data` DKIM-signed for `domain` under a fresh selector whose key DNS publishes."""
    key, selector = generate_dkim_key(1024), f"s{new_key()[:8]}"
    record = txt_value(f"v=DKIM1; k=rsa; p={key.public_b64}")
    mx.dns.add(f"{selector}._domainkey.{domain}", "TXT", record)
    return dkim.sign(data, selector.encode(), domain.encode(), key.private_pem.encode()) + data


async def test_an_fbl_report_counts_only_when_its_from_domain_signed_it(mx: Mx) -> None:
    data = fbl_report(signed(1))
    await deliver(mx, "fbl@isp.example.net", FBL, data)  # unsigned
    await deliver(mx, "fbl@isp.example.net", FBL, sign(mx, data, "elsewhere.example.org"))
    altered = sign(mx, data, "isp.example.net").replace(b"abuse report.", b"abuse report!")
    await deliver(mx, "fbl@isp.example.net", FBL, altered)
    assert await outcome(mx) == ([], [])
    assert "not DKIM-signed by its From domain" in (await last_row(mx)).note

    # signed by the provider, but the original's Return-Path is re-indexed: nobody
    forged = fbl_report(signed(0).replace(f"{ACME_MSG}.0.", f"{ACME_MSG}.1."))
    await deliver(mx, "fbl@isp.example.net", FBL, sign(mx, forged, "isp.example.net"))
    assert await outcome(mx) == ([], [])

    await deliver(mx, "fbl@isp.example.net", FBL, sign(mx, data, "isp.example.net"))
    assert await outcome(mx) == (
        [("spam_report", "bob@example.com")],
        [("acme", "spam_reports", "bob@example.com")],
    )
    row = await last_row(mx)
    assert (row.kind, row.dkim, row.events) == ("arf", "pass", ["spam_report"])


SISIMAI = CORPUS / "sisimai-5.1.0p3" / "maildir-bsd"
PARSEDMARC = CORPUS / "parsedmarc-failure-reports"
CORPUS_CASES = [
    # real hard bounces from several MTAs: the return path's own recipient, bounced
    *[
        (SISIMAI / name, "bounce", "bounces")
        for name in (
            "lhost-amavis-01.eml",
            "lhost-courier-01.eml",
            "lhost-domino-01.eml",
            "lhost-exchange2007-01.eml",
            "lhost-exim-05.eml",
            "lhost-gmail-01.eml",
            "lhost-gsuite-01.eml",
            "rfc3464-01.eml",
        )
    ],
    # real feedback-loop complaints (abuse, opt-out)
    *[
        (SISIMAI / name, "spam_report", "spam_reports")
        for name in ("arf-01.eml", "arf-02.eml", "arf-12.eml", "arf-21.eml")
    ],
    # real DMARC failure reports: no complaint, whatever the address
    *[(SISIMAI / name, None, None) for name in ("arf-18.eml", "arf-19.eml", "arf-20.eml")],
    *[
        (PARSEDMARC / name, None, None)
        for name in (
            "dmarc-failure-domain-de.eml",
            "linkedin-ruf.crlf.eml",
            "linkedin-ruf.eml",
            "netease-dmarc-failure.eml",
        )
    ],
]


@pytest.mark.skipif(not CORPUS.is_dir(), reason="the shared corpus is absent")
@pytest.mark.parametrize(
    ("path", "event", "listed"), CORPUS_CASES, ids=[case[0].name for case in CORPUS_CASES]
)
async def test_corpus_reports_act_only_through_a_signed_return_path(
    mx: Mx, path: Path, event: str | None, listed: str | None
) -> None:
    """What a real report does: nothing at the old unsigned address; at the signed one, what
    its kind gives for that address's recipient (bob), and a DMARC failure report nothing."""
    data = path.read_bytes()
    await deliver(mx, "", f"bounces+{ACME_MSG}.1@{ACME_RP}", data)
    assert await outcome(mx) == ([], [])
    await deliver(mx, "", signed(1), data)
    expected = (
        ([(event, "bob@example.com")], [("acme", listed, "bob@example.com")]) if event else ([], [])
    )
    assert await outcome(mx) == expected
    if event is None:
        assert (await last_row(mx)).kind == "auth-failure"
