"""RFC 3464 delivery status notifications parsed into per-recipient results."""

from __future__ import annotations

import email.policy
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

import pytest

from mta.core.errors import ValidationError
from mta.inbound_mail.parsing.dsn import DsnRecipient, parse_dsn

Fields = list[tuple[str, str]]

PER_MESSAGE: Fields = [
    ("Reporting-MTA", "dns; mx.example.net"),
    ("Arrival-Date", "Mon, 1 Jan 2024 00:00:00 +0000"),
]
FAILED: Fields = [
    ("Final-Recipient", "rfc822; gone@example.net"),
    ("Action", "failed"),
    ("Status", "5.1.1"),
    ("Remote-MTA", "dns; mx.example.net"),
    ("Diagnostic-Code", "smtp; 550 5.1.1 <gone@example.net>: Recipient address rejected"),
]
DELAYED: Fields = [
    ("Original-Recipient", "rfc822;slow@example.org"),
    ("Final-Recipient", "RFC822; Slow@Example.org"),
    ("Action", "Delayed"),
    ("Status", "4.4.1"),
    ("Diagnostic-Code", "smtp; 451 4.4.1 No answer\n    from host"),
    ("Will-Retry-Until", "Tue, 2 Jan 2024 00:00:00 +0000"),
]


def _block(fields: Fields) -> Message:
    block = Message()
    for name, value in fields:
        block[name] = value
    return block


def _original() -> MIMEMessage:
    original = Message()
    original["From"] = "sender@example.com"
    original["Subject"] = "Your receipt"
    original.set_payload("body")
    return MIMEMessage(original)


def _report(*blocks: Fields) -> bytes:
    report = MIMEMultipart("report", report_type="delivery-status")
    report["From"] = "MAILER-DAEMON@mx.example.net"
    report["To"] = "bounces+msg1.0@bounces.example.com"
    report["Subject"] = "Undelivered Mail Returned to Sender"
    report.attach(MIMEText("This is the mail system at host mx.example.net.\n"))
    status = MIMEBase("message", "delivery-status")
    status.set_payload([_block(fields) for fields in blocks])
    report.attach(status)
    report.attach(_original())
    return report.as_bytes(policy=email.policy.SMTP)


def test_two_recipients_failed_and_delayed() -> None:
    assert parse_dsn(_report(PER_MESSAGE, FAILED, DELAYED)) == [
        DsnRecipient(
            recipient="gone@example.net",
            action="failed",
            status="5.1.1",
            diagnostic="smtp; 550 5.1.1 <gone@example.net>: Recipient address rejected",
        ),
        DsnRecipient(
            recipient="Slow@Example.org",
            action="delayed",
            status="4.4.1",
            diagnostic="smtp; 451 4.4.1 No answer from host",
        ),
    ]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            [("Original-Recipient", "rfc822; only-original@example.net"), ("Action", "failed")],
            DsnRecipient("only-original@example.net", "failed", "", ""),
        ),
        (
            [
                ("Final-Recipient", "no-type@example.net"),
                ("Action", "FAILED"),
                ("Status", " 5.2.2 "),
            ],
            DsnRecipient("no-type@example.net", "failed", "5.2.2", ""),
        ),
        (
            [
                ("final-recipient", "rfc822;lower@example.net"),
                ("action", "relayed"),
                ("status", "2.0.0"),
            ],
            DsnRecipient("lower@example.net", "relayed", "2.0.0", ""),
        ),
        (
            [("Final-Recipient", "rfc822; c@example.net"), ("Status", "5.0.0 (permanent failure)")],
            DsnRecipient("c@example.net", "", "5.0.0 (permanent failure)", ""),
        ),
    ],
)
def test_recipient_block_fields(fields: Fields, expected: DsnRecipient) -> None:
    assert parse_dsn(_report(PER_MESSAGE, fields)) == [expected]


def test_only_per_message_block_gives_no_recipients() -> None:
    assert parse_dsn(_report(PER_MESSAGE)) == []


PLAIN = (
    b"From: someone@example.net\r\nTo: bounces+msg1.0@bounces.example.com\r\n"
    b"Subject: Out of office\r\n\r\nI am away.\r\n"
)


def _mixed_with_status_part() -> bytes:
    outer = MIMEMultipart("mixed")
    status = MIMEBase("message", "delivery-status")
    status.set_payload([_block(PER_MESSAGE), _block(FAILED)])
    outer.attach(status)
    return outer.as_bytes(policy=email.policy.SMTP)


def _arf() -> bytes:
    report = MIMEMultipart("report", report_type="feedback-report")
    report.attach(MIMEText("This is an abuse report.\n"))
    feedback = MIMEBase("message", "feedback-report")
    feedback.set_payload("Feedback-Type: abuse\r\nUser-Agent: SomeISP/1.0\r\nVersion: 1\r\n")
    report.attach(feedback)
    report.attach(_original())
    return report.as_bytes(policy=email.policy.SMTP)


@pytest.mark.parametrize(
    "data",
    [
        PLAIN,
        b"",
        b"not a message at all",
        _mixed_with_status_part(),  # a delivery-status part outside multipart/report
        _arf(),  # multipart/report, but a complaint rather than a DSN
    ],
    # Named: two messages have random MIME boundaries, and every xdist worker must collect
    # the same test ids.
    ids=["plain", "empty", "not-a-message", "status-outside-report", "complaint"],
)
def test_non_dsn_messages_give_nothing(data: bytes) -> None:
    assert parse_dsn(data) == []


@pytest.mark.parametrize("depth", [101, 1000])
def test_deeply_nested_mime_is_refused_not_a_crash(depth: int) -> None:
    nested = b"Content-Type: multipart/mixed; boundary=b0\r\n\r\n" + b"".join(
        b"--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n" % (i, i + 1)
        for i in range(depth)
    )
    with pytest.raises(ValidationError, match="MIME structure"):
        parse_dsn(nested + b"x\r\n")


def test_moderate_nesting_still_parses() -> None:
    nested = b"Content-Type: multipart/mixed; boundary=b0\r\n\r\n" + b"".join(
        b"--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n" % (i, i + 1)
        for i in range(50)
    )
    assert parse_dsn(nested + b"x\r\n") == []
