"""One received message → Report: DSNs, text bounces, ARF complaints, auto-replies, other
mail, and hostile input that must not crash the parser."""

from __future__ import annotations

import base64
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

import pytest

from mta.core.errors import ValidationError
from mta.inbound_mail.parsing.classify import classify_message
from mta.inbound_mail.parsing.report import ReportRecipient

ORIGINAL_HEADERS = [
    ("Return-Path", "<bounces+msg42.0@bounces.example.com>"),
    ("From", "Shop <shop@example.com>"),
    ("To", "gone@example.net"),
    ("Subject", "Your receipt"),
    ("Message-ID", "<msg42@example.com>"),
    ("X-ScaiSend-Message-Id", "msg42"),
]


def _original() -> Message:
    original = Message()
    for name, value in ORIGINAL_HEADERS:
        original[name] = value
    original.set_payload("body\n")
    return original


def _block(fields: list[tuple[str, str]]) -> Message:
    block = Message()
    for name, value in fields:
        block[name] = value
    return block


def _dsn(*recipients: list[tuple[str, str]], original: bool = True) -> bytes:
    report = MIMEMultipart("report", report_type="delivery-status")
    report["From"] = "MAILER-DAEMON@mx.example.net"
    report["To"] = "bounces+msg42.0@bounces.example.com"
    report["Subject"] = "Undelivered Mail Returned to Sender"
    report.attach(MIMEText("This is the mail system at host mx.example.net.\n"))
    status = MIMEBase("message", "delivery-status")
    status.set_payload([_block([("Reporting-MTA", "dns; mx.example.net")])]
                       + [_block(r) for r in recipients])  # fmt: skip
    report.attach(status)
    if original:
        report.attach(MIMEMessage(_original()))
    return report.as_bytes()


def _recipient(address: str, action: str, status: str, diagnostic: str) -> list[tuple[str, str]]:
    fields = [("Final-Recipient", f"rfc822; {address}"), ("Action", action), ("Status", status)]
    return fields + ([("Diagnostic-Code", f"smtp; {diagnostic}")] if diagnostic else [])


def test_dsn_recipients_with_verdicts_and_original() -> None:
    report = classify_message(
        _dsn(
            _recipient("gone@example.net", "failed", "5.1.1", "550 5.1.1 <gone@example.net>: "
                       "Recipient address rejected: User unknown (in reply to RCPT TO command)"),
            _recipient("full@example.net", "delayed", "4.2.2", "452 4.2.2 Mailbox full"),
            _recipient("old@example.net", "failed", "4.4.7", "Delivery time expired"),
            _recipient("spam@example.net", "failed", "5.7.1", "554 5.7.1 blocked using Spamhaus"),
        )
    )  # fmt: skip
    assert report.kind == "dsn"
    assert report.reporter == "mx.example.net"
    assert [(r.address, r.action, r.status, r.hard, r.reason) for r in report.recipients] == [
        ("gone@example.net", "failed", "5.1.1", True, "user unknown"),
        ("full@example.net", "delayed", "4.2.2", False, "mailbox full"),
        ("old@example.net", "failed", "4.4.7", True, "expired"),
        ("spam@example.net", "failed", "5.7.1", True, "blocked"),
    ]
    assert report.recipients[0].classification == "Invalid Address"
    assert report.recipients[0].diagnostic.startswith("550 5.1.1 <gone@example.net>")
    assert report.recipients[3].bounce_type == "blocked"
    headers = report.original_headers
    assert headers["x-scaisend-message-id"] == "msg42"
    assert headers["return-path"] == "<bounces+msg42.0@bounces.example.com>"
    assert (headers["message-id"], headers["to"]) == ("<msg42@example.com>", "gone@example.net")


def test_dsn_status_made_precise_by_diagnostic() -> None:
    report = classify_message(
        _dsn(_recipient("x@example.net", "failed", "5.0.0", "550 5.1.1 No such user"))
    )
    assert report.recipients[0].status == "5.1.1"


def test_dsn_with_text_rfc822_headers() -> None:
    report = MIMEMultipart("report", report_type="delivery-status")
    report.attach(MIMEText("failed\n"))
    status = MIMEBase("message", "delivery-status")
    status.set_payload([_block([("Reporting-MTA", "dns; mx")]),
                        _block(_recipient("a@example.net", "failed", "5.2.2", ""))])  # fmt: skip
    report.attach(status)
    headers = "".join(f"{name}: {value}\n" for name, value in ORIGINAL_HEADERS)
    report.attach(MIMEText(headers, "rfc822-headers"))
    result = classify_message(report.as_bytes())
    assert result.recipients[0].reason == "mailbox full"
    assert result.original_headers["x-scaisend-message-id"] == "msg42"


QMAIL = b"""From: MAILER-DAEMON@mx.example.org
To: bounces+msg42.0@bounces.example.com
Subject: failure notice

Hi. This is the qmail-send program at mx.example.org.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<gone@example.org>:
192.0.2.1 does not like recipient.
Remote host said: 550 5.1.1 <gone@example.org>: Recipient address rejected: User unknown
Giving up on 192.0.2.1.

--- Below this line is a copy of the message.

Return-Path: <bounces+msg42.0@bounces.example.com>
X-ScaiSend-Message-Id: msg42
To: gone@example.org
From: shop@example.com

body
"""

EXIM = b"""From: Mail Delivery System <Mailer-Daemon@mx.example.org>
To: bounces+msg42.0@bounces.example.com
Subject: Mail delivery failed: returning message to sender
X-Failed-Recipients: full@example.org
Auto-Submitted: auto-replied

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  full@example.org
    SMTP error from remote mail server after RCPT TO:<full@example.org>:
    552 5.2.2 Mailbox quota exceeded

------ This is a copy of the message, including all the headers. ------

Return-path: <bounces+msg42.0@bounces.example.com>
To: full@example.org
"""


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (QMAIL, [("gone@example.org", "5.1.1", "user unknown", True)]),
        (EXIM, [("full@example.org", "5.2.2", "mailbox full", True)]),
    ],
)
def test_text_bounces(data: bytes, expected: list[tuple[str, str, str, bool]]) -> None:
    report = classify_message(data)
    assert report.kind == "dsn"
    assert [(r.address, r.status, r.reason, r.hard) for r in report.recipients] == expected


def test_text_bounce_finds_quoted_original_is_not_a_recipient() -> None:
    report = classify_message(QMAIL)
    assert "shop@example.com" not in [r.address for r in report.recipients]


def _arf(feedback: str, *, encode: bool = False, crlf: bool = False) -> bytes:
    report = MIMEMultipart("report", report_type="feedback-report")
    report["From"] = "fbl@isp.example"
    report["Subject"] = "FW: Your receipt"
    report.attach(MIMEText("This is an abuse report\n"))
    part = MIMEBase("message", "feedback-report")
    if encode:
        part.set_payload(base64.b64encode(feedback.encode()).decode())
        part["Content-Transfer-Encoding"] = "base64"
    else:
        part.set_payload([_block([tuple(line.split(": ", 1)) for line in feedback.splitlines()])])  # type: ignore[misc]
    report.attach(part)
    report.attach(MIMEMessage(_original()))
    data = report.as_bytes()
    if encode:
        data = data.replace(b"Content-Type: message/feedback-report",
                            b"Content-type: message/feedback-report")  # fmt: skip
    return data.replace(b"\n", b"\r\n") if crlf else data


FEEDBACK = "Feedback-Type: abuse\nUser-Agent: ISP-FBL/1.0\nVersion: 1\n"


@pytest.mark.parametrize(
    ("data", "feedback_type", "rcpt"),
    [
        (_arf(FEEDBACK + "Original-Rcpt-To: <victim@isp.example>"), "abuse", "victim@isp.example"),
        (_arf(FEEDBACK), "abuse", "gone@example.net"),  # no Original-Rcpt-To: the original's To
        (_arf(FEEDBACK, encode=True), "abuse", "gone@example.net"),
        (_arf(FEEDBACK, crlf=True), "abuse", "gone@example.net"),
        (_arf("Feedback-Type: auth-failure\nUser-Agent: X/1\nVersion: 1\nAuth-Failure: dmarc\n"
              "Original-Rcpt-To: r@isp.example"), "auth-failure", "r@isp.example"),
    ],
    # Named: the messages' MIME boundaries are random, and every xdist worker must collect
    # the same test ids.
    ids=["original-rcpt-to", "original-to", "base64-report", "crlf", "auth-failure"],
)  # fmt: skip
def test_arf(data: bytes, feedback_type: str, rcpt: str) -> None:
    report = classify_message(data)
    assert (report.kind, report.feedback_type) == ("arf", feedback_type)
    assert [r.address for r in report.recipients] == [rcpt]
    assert report.original_headers["x-scaisend-message-id"] == "msg42"
    assert report.original_headers["message-id"] == "<msg42@example.com>"


@pytest.mark.parametrize(
    "headers",
    [
        "Auto-Submitted: auto-replied\nSubject: Re: Your receipt\n",
        "Subject: Out of Office: Your receipt\n",
        "Subject: Automatic reply: Your receipt\n",
        "X-Autoreply: yes\nSubject: Re: hi\n",
        "Precedence: auto_reply\nSubject: Re: hi\n",
    ],
)
def test_autoreply(headers: str) -> None:
    data = f"From: someone@example.net\nTo: shop@example.com\n{headers}\nI am away.\n"
    report = classify_message(data.encode())
    assert (report.kind, report.recipients) == ("autoreply", [])


def test_other_mail() -> None:
    data = b"From: a@example.net\nTo: b@example.com\nSubject: hello\n\nJust a letter.\n"
    assert classify_message(data).kind == "other"


def test_delivered_dsn_is_not_hard() -> None:
    report = classify_message(_dsn(_recipient("ok@example.net", "delivered", "2.0.0", "250 ok")))
    assert report.recipients == [
        ReportRecipient(
            address="ok@example.net",
            action="delivered",
            status="2.0.0",
            diagnostic="250 ok",
            classification="Unclassified",
            reason="undefined",
        )
    ]


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00\xff\xfe junk \x80\x81" * 1000,
        b"Subject: " + b"x" * 1_000_000 + b"\n\nbody\n",
        b"X-Long: " + b"a " * 200_000 + b"\nFrom: MAILER-DAEMON@x\n\nbody\n",
        b"Content-Type: text/plain; charset=no-such-charset\nFrom: MAILER-DAEMON@x\n"
        b"Subject: Undeliverable\n\n<a@example.net>: 550 user unknown \xff\xfe\n",
        b"Content-Type: multipart/report; boundary=b\nSubject: =?bogus?Q?x?=\n\n"
        b"--b\nContent-Type: message/delivery-status\nContent-Transfer-Encoding: base64\n\n"
        b"!!!not base64!!!\n--b--\n",
        b"Content-Type: message/feedback-report\n\n\xff\xfe\x00",
    ],
)
def test_hostile_input_does_not_crash(data: bytes) -> None:
    report = classify_message(data)
    assert report.kind in ("dsn", "arf", "autoreply", "other")


def test_deeply_nested_mime_is_refused() -> None:
    nested = b"".join(
        b"Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n" % (i, i) for i in range(150)
    )
    with pytest.raises(ValidationError):
        classify_message(nested + b"x\n")


def test_nesting_below_the_limit_is_parsed() -> None:
    nested = b"".join(
        b"Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n" % (i, i) for i in range(50)
    )
    assert classify_message(nested + b"x\n").kind == "other"


def test_text_bounce_quoted_original_headers() -> None:
    headers = classify_message(QMAIL).original_headers
    assert headers["x-scaisend-message-id"] == "msg42"
    assert headers["return-path"] == "<bounces+msg42.0@bounces.example.com>"
