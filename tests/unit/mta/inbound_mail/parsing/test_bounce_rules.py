"""The classifier's structural rules on synthetic bounces: which address failed (RFC 3464
address types, RFC 822 syntax, the bounce's own headers) and permanence from wording."""

from __future__ import annotations

from email.message import Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

import pytest

from mta.inbound_mail.parsing.addresses import bare_address, dsn_address
from mta.inbound_mail.parsing.classify import classify_message
from mta.inbound_mail.parsing.permanence import worded_action


def _dsn(fields: list[tuple[str, str]], text: str = "Delivery failed.\n") -> bytes:
    report = MIMEMultipart("report", report_type="delivery-status")
    report["From"] = "MAILER-DAEMON@mx.example.net"
    report["To"] = "bounces+m1.0.mac@bounces.example.com"
    report["Subject"] = "Undelivered Mail Returned to Sender"
    report.attach(MIMEText(text))
    status = MIMEBase("message", "delivery-status")
    per_message, block = Message(), Message()
    per_message["Reporting-MTA"] = "dns; mx.example.net"
    for name, value in fields:
        block[name] = value
    status.set_payload([per_message, block])
    report.attach(status)
    return report.as_bytes()


def _text_bounce(body: str, headers: dict[str, str] | None = None) -> bytes:
    message = MIMEText(body)
    message["From"] = "MAILER-DAEMON@mx.example.net"
    message["To"] = "bounces+m1.0.mac@bounces.example.com"
    message["Subject"] = "failure notice"
    for name, value in (headers or {}).items():
        message[name] = value
    return message.as_bytes()


def _found(data: bytes) -> list[tuple[str, bool]]:
    return [(r.address, r.hard) for r in classify_message(data).recipients]


FAILED = [("Action", "failed"), ("Status", "5.1.1")]


def test_an_x400_final_recipient_gives_way_to_the_rfc822_original_recipient() -> None:
    fields = [
        ("Original-Recipient", "rfc822; jane@example.org"),
        ("Final-Recipient", "X400; /c=US/admd= /prmd=Example/o=Mail/s=Doe/g=Jane/"),
        *FAILED,
    ]
    assert _found(_dsn(fields)) == [("jane@example.org", True)]


def test_an_x400_final_recipient_beside_an_rfc822_one_is_one_recipient() -> None:
    fields = [
        ("Final-Recipient", "x400; /c=US/p=Example/s=Doe/"),
        ("Final-Recipient", "rfc822; doe@example.org"),
        *FAILED,
    ]
    assert _found(_dsn(fields)) == [("doe@example.org", True)]


def test_an_x400_original_recipient_is_never_taken() -> None:
    fields = [("Original-Recipient", "X400; /c=US/s=Doe/"), *FAILED]
    text = "Your message to <doe@example.org> could not be delivered.\n"
    assert _found(_dsn(fields, text)) == [("doe@example.org", True)]


@pytest.mark.parametrize(
    "value",
    [
        "rfc822; SMTP:doe@example.org",
        "rfc822; smtp=doe@example.org",
        "rfc822; rfc822;doe@example.org",
        "rfc822; '<doe@example.org>'",
        'rfc822; "doe@example.org"',
        "rfc822; <doe@example.org",
        "rfc822; <@relay.example.net,@mx.example.org:doe@example.org>",
    ],
)
def test_a_final_recipient_loses_its_prefix_quotes_brackets_and_route(value: str) -> None:
    assert _found(_dsn([("Final-Recipient", value), *FAILED])) == [("doe@example.org", True)]


def test_a_route_to_an_internal_host_falls_back_to_the_original_recipient() -> None:
    fields = [
        ("Original-Recipient", "rfc822;doe@example.org"),
        ("Final-Recipient", "rfc822;@store1.example.org:doe@ims_daemon"),
        *FAILED,
    ]
    assert _found(_dsn(fields)) == [("doe@example.org", True)]


def test_the_final_recipient_wins_over_the_original_one() -> None:
    fields = [
        ("Original-Recipient", "rfc822; list@lists.example.org"),
        ("Final-Recipient", "rfc822; doe@example.org"),
        *FAILED,
    ]
    assert _found(_dsn(fields)) == [("doe@example.org", True)]


def test_x_actual_recipient_wins_over_the_original_one() -> None:
    fields = [
        ("Original-Recipient", "rfc822; alias@example.org"),
        ("Final-Recipient", "system; <>"),
        ("X-Actual-Recipient", "rfc822; mailbox@example.org"),
        *FAILED,
    ]
    assert _found(_dsn(fields)) == [("mailbox@example.org", True)]


def test_a_system_final_recipient_takes_the_address_the_text_names() -> None:
    fields = [("Final-Recipient", "system; <>"), ("Action", "failed"), ("Status", "5.0.0")]
    text = "Failed to deliver to '<doe@example.org>'\n"
    assert _found(_dsn(fields, text)) == [("doe@example.org", True)]


def test_x_failed_recipients_are_cleaned_of_prefixes_and_stray_quotes() -> None:
    body = "This message was created automatically by mail delivery software.\n"
    headers = {"X-Failed-Recipients": "SMTP:doe@example.org, 'roe@example.org"}
    found = _found(_text_bounce(body, headers))
    assert found == [("doe@example.org", True), ("roe@example.org", True)]


def test_a_text_bounce_never_takes_its_own_envelope_addresses() -> None:
    body = (
        "Delivered to bounces+m1.0.mac@mail.example.com but this message could not be "
        "delivered to doe@example.org: no such user.\n"
    )
    headers = {"Delivered-To": "bounces+m1.0.mac@mail.example.com"}
    assert _found(_text_bounce(body, headers)) == [("doe@example.org", True)]


def test_an_arf_recipient_with_a_name_and_a_stray_bracket_is_the_bare_address() -> None:
    report = MIMEMultipart("report", report_type="feedback-report")
    report.attach(MIMEText("This is an email abuse report.\n"))
    feedback = MIMEBase("message", "feedback-report")
    feedback.set_payload(
        "Feedback-Type: abuse\nUser-Agent: fbl/1.0\nVersion: 1\n"
        "Original-Rcpt-To: undisclosed recipient <doe@example.org\n"
    )
    report.attach(feedback)
    assert _found(report.as_bytes()) == [("doe@example.org", False)]


@pytest.mark.parametrize(
    "cause",
    [
        "Mailbox quota usage exceeded.",
        "The user is over quota, try again later.",
        "Message temporarily deferred.",
        "Delivery to this recipient has been delayed. We will retry for 2 more days.",
        "Mailbox is full.",
    ],
)
def test_temporary_wording_without_a_status_code_is_soft(cause: str) -> None:
    body = f"Your message could not be delivered.\n\n<doe@example.org>:\n{cause}\n"
    report = classify_message(_text_bounce(body))
    assert [(r.address, r.action, r.hard) for r in report.recipients] == [
        ("doe@example.org", "delayed", False)
    ]


def test_permanent_wording_wins_over_a_full_mailbox() -> None:
    body = (
        "I'm afraid I wasn't able to deliver your message. This is a permanent error; "
        "I've given up. Sorry it didn't work out.\n\n<doe@example.org>:\nMailbox is full.\n"
    )
    assert _found(_text_bounce(body)) == [("doe@example.org", True)]


def test_a_status_code_decides_before_the_wording() -> None:
    body = "Your message could not be delivered.\n\n<doe@example.org>:\n552 5.2.2 Mailbox is full\n"
    assert _found(_text_bounce(body)) == [("doe@example.org", True)]


def test_worded_action_reads_tense() -> None:
    assert worded_action("Delivery attempts will continue for some time.") == "delayed"
    assert worded_action("mailbox is full: retry timeout exceeded") == "failed"
    assert worded_action("No such user here.") == ""


def test_addresses_of_other_types_or_without_a_host_name_are_none() -> None:
    assert dsn_address("x400; /c=US/s=Doe/") == ""
    assert dsn_address("unknown; doe") == ""
    assert bare_address("doe@localhost_daemon") == ""
    assert bare_address("Doe <doe@[192.0.2.1]>") == "doe@[192.0.2.1]"
