"""Vendor quirks of real bounces: DSN fields run together (AOL), raw ISO-2022-JP in a
Diagnostic-Code (Domino), local delivery programs (X-Unix), Exim's malformed-address notice,
fml mailing-list notices and a notice signed post_master (Verizon)."""

from __future__ import annotations

from mta.inbound_mail.parsing.classify import classify_message

AOL_RUN_TOGETHER = b"""From: MAILER-DAEMON@aol.example.com
To: bounces+msg42.0@bounces.example.com
Subject: Undeliverable: Hello
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b1"

--b1
Content-Type: text/plain

Your message could not be delivered.

--b1
Content-Type: message/delivery-status

Reporting-MTA: dns; omr.mx.aol.example.com
Arrival-Date: Fri, 21 Nov 2014 17:14:10 -0500 (EST)
Final-Recipient: rfc822; full@example.jp
Original-Recipient: rfc822;full@example.jp
Action: failed
Status: 5.2.2
Diagnostic-Code: smtp; 550 5.2.2 <full@example.jp>... Mailbox Full
Final-Recipient: rfc822; gone@example.jp
Original-Recipient: rfc822;gone@example.jp
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <gone@example.jp>... User Unknown

--b1--
"""


def test_recipient_fields_without_blank_lines_are_split() -> None:
    report = classify_message(AOL_RUN_TOGETHER)
    assert [(r.address, r.status, r.reason) for r in report.recipients] == [
        ("full@example.jp", "5.2.2", "mailbox full"),
        ("gone@example.jp", "5.1.1", "user unknown"),
    ]


def _single_dsn(
    diagnostic: bytes, status: bytes = b"5.0.0", reporter: bytes = b"mx.example.jp"
) -> bytes:
    return (
        b"From: MAILER-DAEMON@mx.example.jp\nTo: bounces+msg42.0@bounces.example.com\n"
        b"Subject: Undelivered\nMIME-Version: 1.0\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"\n\n'
        b"--b1\nContent-Type: text/plain\n\nnot delivered\n\n"
        b"--b1\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; " + reporter + b"\n\n"
        b"Final-Recipient: rfc822;neko@example.jp\nAction: failed\nStatus: " + status + b"\n"
        b"Diagnostic-Code: " + diagnostic + b"\n\n--b1--\n"
    )


def test_raw_iso_2022_jp_diagnostic_is_decoded() -> None:
    text = "ユーザーNeko (neko@example.jp) は Domino ディレクトリには見つかりません。"
    report = classify_message(_single_dsn(b"X-Notes; " + text.encode("iso-2022-jp")))
    assert report.recipients[0].diagnostic == text
    assert report.recipients[0].reason == "user unknown"


def test_local_delivery_program_failure_is_a_mailer_error() -> None:
    diagnostic = b'x-unix; procmail: Couldn\'t create "/var/spool/mail/neko": No such user'
    recipient = classify_message(_single_dsn(diagnostic, b"5.1.1")).recipients[0]
    assert (recipient.reason, recipient.classification) == ("mailer error", "Technical Failure")
    assert recipient.hard  # still a permanent failure for our event


def test_smtp_reply_keeps_the_address_verdict() -> None:
    recipient = classify_message(_single_dsn(b"smtp; 550 5.1.1 No such user", b"5.1.1"))
    assert recipient.recipients[0].reason == "user unknown"


def test_ses_receipt_rule_template_is_a_filter() -> None:
    diagnostic = b"smtp; 550 5.1.1 Mailbox does not exist"
    ses = b"inbound-smtp.us-west-2.amazonaws.com"
    filtered = classify_message(_single_dsn(diagnostic, b"5.1.1", ses)).recipients[0]
    assert (filtered.reason, filtered.hard) == ("filtered", True)  # still a bounce event
    looked_up = classify_message(_single_dsn(diagnostic, b"5.1.1")).recipients[0]
    assert looked_up.reason == "user unknown"


EXIM_MALFORMED = b"""From: Mail Delivery System <mailer-daemon@mx.example.com>
To: bounces+msg42.0@bounces.example.com
Subject: Mail failure - malformed recipient address
Auto-Submitted: auto-replied

A message that you sent contained one or more recipient addresses that were
incorrectly constructed:

  Neko <neko@example.net>: malformed address: <neko@example.net> may not follow Neko

This address has been ignored. The other addresses in the message were
syntactically valid and have been passed on for an attempt at delivery.

------ This is a copy of your message, including all the headers. ------

To: Neko <neko@example.net>
"""


def test_exim_malformed_address_notice_names_each_entry_once() -> None:
    report = classify_message(EXIM_MALFORMED)
    assert [r.address for r in report.recipients] == ["neko@example.net"]


def _fml(subject: str, body: str) -> bytes:
    return (
        "From: neko-admin@example.org\nTo: bounces+msg42.0@bounces.example.com\n"
        f"Subject: {subject}\nMessage-ID: <200504292334.FMLFFFFFF0.neko@example.org>\n"
        "X-MLServer: fml [fml 4.0.3 release (20011202/4.0.3)]\n\n"
        f"{body}\n\nOriginal mail as follows:\n\nFrom: shop@example.com\nTo: <neko@example.org>\n"
    ).encode()


def test_fml_not_member_notice_is_a_rejection() -> None:
    data = _fml(
        "You bounces@example.com are not member (neko ML)",
        "You are not a member of this mailing list <neko@example.org>.",
    )
    report = classify_message(data)
    assert report.kind == "dsn"
    assert [(r.address, r.reason, r.bounce_type) for r in report.recipients] == [
        ("neko@example.org", "rejected", "blocked")
    ]


def test_fml_loop_alert_is_a_system_error() -> None:
    data = _fml(
        "Loop Alert: Duplicated Message-ID (neko ML)",
        "Duplicated Message-ID in <neko@example.org>.",
    )
    assert [r.reason for r in classify_message(data).recipients] == ["system error"]


def test_fml_headers_without_the_fml_message_id_are_not_fml() -> None:
    data = _fml("Loop Alert: x", "Duplicated Message-ID in <neko@example.org>.").replace(
        b".FMLFFFFFF0.", b".X."
    )
    assert all(r.reason != "system error" for r in classify_message(data).recipients)


VERIZON = b"""From: post_master@vtext.example.com
To: bounces+msg42.0@bounces.example.com
Subject: Re:Test message
Content-Type: text/plain; charset=us-ascii

Error: Invalid user address

Error message below:
550 - Requested action not taken: no such user here

Message details:
  Subject: Test message
  MAIL FROM: bounces+msg42.0@bounces.example.com
  RCPT TO: 5550001111@vtext.example.com
  From: shop@example.com
"""


def test_notice_from_post_master_is_a_bounce() -> None:
    report = classify_message(VERIZON)
    assert report.kind == "dsn"
    assert [(r.address, r.reason) for r in report.recipients] == [
        ("5550001111@vtext.example.com", "user unknown")
    ]
