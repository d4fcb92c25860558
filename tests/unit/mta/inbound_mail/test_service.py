"""The inbound service over a real SQLite database and a running event bus: DSNs and ARF
reports become events for the right message and recipient, never across accounts, never
twice; every received message is recorded with its authentication."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email.message import EmailMessage, Message
from email.mime.base import MIMEBase
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from pathlib import Path
from typing import Any

import dkim
import pytest
from sqlalchemy import select, text

from mta.core.dns import MxRecord, NxDomain
from mta.core.errors import ValidationError
from mta.core.return_path import ReturnPathKeys, new_key, verp_address
from mta.db.engine import create_schema, make_engine, make_sessionmaker
from mta.db.models import Account, Domain, InboundMessage, MessageRecipient
from mta.db.models import Event as EventRow
from mta.db.models import Message as MessageRow
from mta.db.sealed import Sealer, new_sealing_key, seal_with
from mta.events.bus import EventBus, MessageLogEntry
from mta.inbound_mail.service import InboundService
from mta.services.dns_records import generate_dkim_key
from mta.services.domains import DomainService
from tests.support.databases import Database

STATIC = "fbl.scaisend.test"
ACME_RP, OTHER_RP = "bounces.mail.acme.test", "bounces.mail.other.test"
MSG = "018f0000000000aaaabbbbccccdddd"[:27]
KEYS = ReturnPathKeys((new_key(),))
FBL = f"fbl@{STATIC}"


class Dns:
    """A Resolver holding TXT records (DKIM keys); anything else does not exist."""

    def __init__(self) -> None:
        self.txt_records: dict[str, list[str]] = {}

    async def mx(self, name: str) -> list[MxRecord]:
        raise NxDomain(name)

    async def txt(self, name: str) -> list[str]:
        if name.lower().rstrip(".") not in self.txt_records:
            raise NxDomain(name)
        return self.txt_records[name.lower().rstrip(".")]

    async def addresses(self, name: str) -> list[str]:
        raise NxDomain(name)

    async def ptr(self, address: str) -> list[str]:
        raise NxDomain(address)


@dataclass
class World:
    sessions: Any
    service: InboundService
    bus: EventBus
    dns: Dns


def _domain(account: str, rp_host: str) -> Domain:
    return Domain(
        id=f"d-{account}",
        account_id=account,
        domain=rp_host.removeprefix("bounces."),
        dkim_selector="s1",
        dkim_private_key="",
        dkim_public_key="",
        return_path_host=rp_host,
        dmarc_policy="none",
        dmarc_rua_email=None,
        verified=True,
        verified_at=time.time(),
        created_at=time.time(),
    )


def _message(message_id: str, account: str, recipients: list[str]) -> list[Any]:
    now = time.time()
    rows: list[Any] = [
        MessageRow(
            id=message_id,
            account_id=account,
            api_key_id=None,
            from_email=f"hello@mail.{account}.test",
            subject="Hi",
            template_id=None,
            categories=["news"],
            custom_args={"order": "42"},
            status="delivered",
            sandbox=False,
            created_at=now,
            updated_at=now,
        )
    ]
    rows += [
        MessageRecipient(message_id=message_id, index=i, email=email, status="delivered")
        for i, email in enumerate(recipients)
    ]
    return rows


@pytest.fixture
async def world(tmp_path: Path, database: Database) -> AsyncIterator[World]:
    engine = seal_with(make_engine(database.engine_url(tmp_path)), Sealer([new_sealing_key()]))
    await create_schema(engine)
    sessions = make_sessionmaker(engine)
    async with sessions() as session:
        session.add_all([Account(id=a, name=a, created_at=time.time()) for a in ("acme", "other")])
        await session.flush()
        session.add_all([_domain("acme", ACME_RP), _domain("other", OTHER_RP)])
        session.add_all(_message(MSG, "acme", ["ada@example.com", "bob@example.com"]))
        await session.commit()
    dns = Dns()
    bus = EventBus(sessions)
    bus.start()
    domains = DomainService(sessions, dns, "mx.test")
    service = InboundService(
        sessions, domains, bus, [STATIC], dns, return_path_keys=KEYS, fbl_addresses=[FBL]
    )
    yield World(sessions, service, bus, dns)
    await bus.stop()
    await engine.dispose()


def original(message_id: str = MSG, to: str = "ada@example.com") -> EmailMessage:
    sent = EmailMessage()
    sent["From"] = "hello@mail.acme.test"
    sent["To"] = to
    sent["Subject"] = "Hi"
    sent["X-ScaiSend-Message-Id"] = message_id
    sent.set_content("Hello")
    return sent


def fields_block(fields: list[tuple[str, str]]) -> Message:
    block = Message()
    for name, value in fields:
        block[name] = value
    return block


def dsn(*blocks: tuple[str, str, str], attach: EmailMessage | None = None) -> bytes:
    """A multipart/report DSN with one (recipient, action, status) block each."""
    report = MIMEMultipart("report", report_type="delivery-status")
    report["From"] = "MAILER-DAEMON@mx.example.net"
    report["Subject"] = "Undelivered Mail Returned to Sender"
    report.attach(MIMEText("Your message could not be delivered."))
    status = MIMEBase("message", "delivery-status")
    blocks_out: list[Message | str] = [fields_block([("Reporting-MTA", "dns; mx.example.net")])]
    for rcpt, action, code in blocks:
        blocks_out.append(
            fields_block(
                [
                    ("Final-Recipient", f"rfc822; {rcpt}"),
                    ("Action", action),
                    ("Status", code),
                    ("Diagnostic-Code", f"smtp; 550 {code} <{rcpt}>: user unknown"),
                ]
            )
        )
    status.set_payload(blocks_out)
    report.attach(status)
    if attach is not None:
        report.attach(MIMEMessage(attach))
    return report.as_bytes()


def arf(attach: EmailMessage, rcpt: str | None = "bob@example.com") -> bytes:
    report = MIMEMultipart("report", report_type="feedback-report")
    report["From"] = "fbl@isp.example.net"
    report["Subject"] = "Complaint"
    report.attach(MIMEText("This is an abuse report."))
    feedback = MIMEBase("message", "feedback-report")
    fields = [("Feedback-Type", "abuse"), ("User-Agent", "ISP-FBL/1.0"), ("Version", "1")]
    if rcpt:
        fields.append(("Original-Rcpt-To", rcpt))
    feedback.set_payload([fields_block(fields)])
    report.attach(feedback)
    report.attach(MIMEMessage(attach))
    return report.as_bytes()


async def events(world: World, kind: str | None = None) -> list[EventRow]:
    async with world.sessions() as session:
        query = select(EventRow).order_by(EventRow.timestamp)
        if kind:
            query = query.where(EventRow.event_type == kind)
        return list(await session.scalars(query))


async def inbound_rows(world: World) -> list[InboundMessage]:
    async with world.sessions() as session:
        return list(await session.scalars(select(InboundMessage).order_by(InboundMessage.id)))


def verp(index: int, host: str = ACME_RP, message_id: str = MSG) -> str:
    return verp_address(message_id, index, host, KEYS)


async def test_a_dsn_to_the_verp_address_bounces_that_recipient(world: World) -> None:
    await world.service.receive("", [verp(1)], dsn(("bob@example.com", "failed", "5.1.1")))
    [bounce] = await events(world, "bounce")
    assert (bounce.message_id, bounce.email, bounce.account_id) == (MSG, "bob@example.com", "acme")
    assert bounce.data["status"] == "5.1.1"
    assert bounce.data["bounce_classification"] == "Invalid Address"
    assert "user unknown" in bounce.data["reason"]
    async with world.sessions() as session:
        statuses = await session.execute(
            select(MessageRecipient.index, MessageRecipient.status).order_by(MessageRecipient.index)
        )
        assert [tuple(row) for row in statuses] == [(0, "delivered"), (1, "bounced")]
    [row] = await inbound_rows(world)
    assert (row.kind, row.message_id, row.account_id, row.events) == (
        "dsn",
        MSG,
        "acme",
        ["bounce"],
    )
    assert row.rcpt == verp(1) and row.mail_from == "" and row.size > 0
    assert row.dkim == "none" and row.note == ""


async def test_the_same_dsn_twice_bounces_once(world: World) -> None:
    data = dsn(("ada@example.com", "failed", "5.1.1"))
    await world.service.receive("", [verp(0)], data)
    await world.service.receive("", [verp(0)], data)
    assert len(await events(world, "bounce")) == 1
    first, second = await inbound_rows(world)
    assert first.events == ["bounce"] and second.events == []
    assert "no new event" in second.note


async def test_a_dsn_naming_several_recipients_speaks_for_its_return_path_s_only(
    world: World,
) -> None:
    data = dsn(("bob@example.com", "failed", "5.1.1"), ("ada@example.com", "delayed", "4.2.2"))
    await world.service.receive("", [verp(0)], data)
    found = {(e.event_type, e.email) for e in await events(world)}
    assert found == {("deferred", "ada@example.com")}


async def test_a_forged_cross_account_verp_gives_nothing(world: World) -> None:
    # acme's message id under the other account's return-path host
    await world.service.receive(
        "", [verp(0, OTHER_RP)], dsn(("ada@example.com", "failed", "5.1.1"))
    )
    assert await events(world) == []
    [row] = await inbound_rows(world)
    assert row.message_id is None and row.events == [] and "foreign" in row.note


async def test_a_message_not_in_the_log_gives_nothing(world: World) -> None:
    unknown = verp(0, message_id="018f0000000000deadbeefdead")
    await world.service.receive("", [unknown], dsn(("ada@example.com", "failed", "5.1.1")))
    assert await events(world) == []
    assert "unknown message" in (await inbound_rows(world))[0].note


async def test_a_recipient_not_in_the_message_gives_nothing(world: World) -> None:
    data = dsn(("x@elsewhere.test", "failed", "5.1.1"), ("y@elsewhere.test", "failed", "5.1.1"))
    await world.service.receive("", [verp(0)], data)
    assert await events(world) == []


async def test_a_dsn_to_a_plain_address_suppresses_nobody_whatever_it_attaches(
    world: World,
) -> None:
    sent = original(to="bob@example.com")
    sent["Return-Path"] = f"<{verp(1)}>"  # even a validly signed one: recipients see it
    data = dsn(("bob@example.com", "failed", "5.1.1"), attach=sent)
    await world.service.receive("", [f"postmaster@{STATIC}"], data)
    await world.service.receive("", [f"postmaster@{ACME_RP}"], data)
    assert await events(world) == []
    rows = await inbound_rows(world)
    assert [(row.kind, row.message_id, row.events) for row in rows] == [("dsn", None, [])] * 2


async def test_an_arf_report_to_a_signed_return_path_becomes_a_spam_report_once(
    world: World,
) -> None:
    data = arf(original(to="bob@example.com"))
    await world.service.receive("fbl@isp.example.net", [verp(1)], data)
    await world.service.receive("fbl@isp.example.net", [verp(1)], data)
    [report] = await events(world, "spam_report")
    assert (report.message_id, report.email, report.account_id) == (MSG, "bob@example.com", "acme")
    assert report.data["feedback_type"] == "abuse" and report.data["source"] == "ISP-FBL/1.0"
    first, second = await inbound_rows(world)
    assert (first.kind, first.dkim, first.events) == ("arf", "none", ["spam_report"])
    assert second.events == []


def _publish_key(world: World, selector: str, domain: str) -> bytes:
    key = generate_dkim_key(1024)
    world.dns.txt_records[f"{selector}._domainkey.{domain}"] = [
        f"v=DKIM1; k=rsa; p={key.public_b64}"
    ]
    return key.private_pem.encode()


def fbl_report(return_path: str) -> bytes:
    sent = original(to="redacted@example.com")
    sent["Return-Path"] = f"<{return_path}>"
    data = arf(sent, rcpt=None)
    return b"Authentication-Results: mx.isp.example.net; spf=pass\r\n" + data.replace(
        b"\n", b"\r\n"
    )


async def test_a_signed_fbl_report_counts_for_the_return_path_s_recipient(world: World) -> None:
    private = _publish_key(world, "fbl", "isp.example.net")
    data = fbl_report(verp(0))
    signature = dkim.sign(data, b"fbl", b"isp.example.net", private)
    await world.service.receive("fbl@isp.example.net", [FBL], signature + data)
    [report] = await events(world, "spam_report")
    assert report.email == "ada@example.com"
    [row] = await inbound_rows(world)
    assert row.dkim == "pass"
    assert row.authres == "d=isp.example.net; mx.isp.example.net: spf=pass"


@pytest.mark.parametrize("signer", [None, "elsewhere.example.org", "forged"])
async def test_an_fbl_report_without_its_from_domain_s_signature_counts_for_nothing(
    world: World, signer: str | None
) -> None:
    data = fbl_report(verp(0))
    if signer is not None:
        domain = "isp.example.net" if signer == "forged" else signer
        private = _publish_key(world, "fbl", domain)
        data = dkim.sign(data, b"fbl", domain.encode(), private) + data
        if signer == "forged":  # signed, then altered
            data = data.replace(b"This is an abuse report.", b"This is an abuse report!")
    await world.service.receive("fbl@isp.example.net", [FBL], data)
    assert await events(world) == []
    [row] = await inbound_rows(world)
    assert row.events == [] and "not DKIM-signed by its From domain" in row.note


async def test_a_dmarc_failure_report_is_its_own_kind_and_no_complaint(world: World) -> None:
    data = arf(original(to="bob@example.com")).replace(
        b"Feedback-Type: abuse", b"Feedback-Type: auth-failure"
    )
    await world.service.receive("dmarc@isp.example.net", [verp(1)], data)
    assert await events(world) == []
    [row] = await inbound_rows(world)
    assert (row.kind, row.events) == ("auth-failure", [])
    assert "DMARC failure report" in row.note


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (
            b"From: ada@example.com\r\nSubject: Out of office\r\nAuto-Submitted: auto-replied\r\n"
            b"\r\nI am away.\r\n",
            "autoreply",
        ),
        (b"From: someone@example.org\r\nSubject: hello\r\n\r\nJust saying hi.\r\n", "other"),
    ],
)
async def test_autoreplies_and_other_mail_are_recorded_and_discarded(
    world: World, data: bytes, kind: str
) -> None:
    await world.service.receive("ada@example.com", [verp(0)], data)
    assert await events(world) == []
    [row] = await inbound_rows(world)
    assert (row.kind, row.events, row.note) == (kind, [], f"{kind} discarded")


async def test_mime_too_complex_is_refused_and_not_recorded(world: World) -> None:
    nested = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n" + b"multipart/" * 200
    with pytest.raises(ValidationError):
        await world.service.receive("", [verp(0)], nested)
    assert await inbound_rows(world) == []


async def test_accepts_our_return_path_hosts_and_static_domains(world: World) -> None:
    assert await world.service.accepts_domain(ACME_RP)
    assert await world.service.accepts_domain(STATIC.upper() + ".")
    assert not await world.service.accepts_domain("elsewhere.test")


async def test_a_bounce_back_before_its_message_is_logged_still_bounces(world: World) -> None:
    # Postfix on loopback bounced within 0.2 s of delivery, while the bus had not yet
    # written the message to the log: the DSN was recorded as "unknown message" and lost.
    fast = "018f0000000000aaaabbbbccccfff"[:27]
    async with world.sessions() as blocker:  # holds the bus's writes back, reads go on
        if blocker.bind.dialect.name == "postgresql":
            await blocker.execute(text("LOCK TABLE messages IN EXCLUSIVE MODE"))
        else:
            await blocker.execute(text("UPDATE accounts SET name = name WHERE id = 'other'"))
        world.bus.accepted(
            MessageLogEntry(
                message_id=fast,
                account_id="acme",
                api_key_id=None,
                from_email="hello@mail.acme.test",
                subject="Hi",
                template_id=None,
                categories=[],
                custom_args={},
                sandbox=False,
                recipients=[(0, "fast@example.com")],
                created_at=time.time(),
            )
        )
        asyncio.get_running_loop().call_later(
            0.5, lambda: asyncio.ensure_future(blocker.rollback())
        )
        data = dsn(("fast@example.com", "failed", "5.1.1"))
        await world.service.receive("", [verp(0, message_id=fast)], data)
    bounces = [e for e in await events(world, "bounce") if e.message_id == fast]
    assert [b.email for b in bounces] == ["fast@example.com"]
