"""What happens after acceptance: a refused recipient bounces, a 4xx defers and is retried
until delivered, a failing webhook is retried, and a DSN sent back to the VERP return path
on the inbound MX becomes a bounce — each visible in the message log and the webhooks."""

from __future__ import annotations

import json
import smtplib

import pytest

from tests.support.api import account_with_key, admin, send, wait_for_status
from tests.support.dns_server import DnsServer
from tests.support.server import ScaisendServer
from tests.support.sink import SmtpSink
from tests.support.webhook_receiver import WebhookReceiver


def events_of(message: dict[str, object]) -> list[str]:
    return [e["event_type"] for e in message["events"]]  # type: ignore[attr-defined,index]


def test_a_refused_recipient_bounces_and_the_webhook_says_why(
    scaisend: ScaisendServer, dns_server: DnsServer, sink: SmtpSink, receiver: WebhookReceiver
) -> None:
    token, key = account_with_key(scaisend, dns_server)
    admin(
        scaisend,
        token,
        "POST",
        "/v3/user/webhooks",
        {"url": receiver.url, "enabled_events": ["bounce", "delivered"]},
    )
    sink.reject["nobody@example.com"] = "550 5.1.1 <nobody@example.com>: user unknown"
    message_id = send(scaisend, key, "nobody@example.com")
    message = wait_for_status(scaisend, key, message_id, "bounced")
    assert events_of(message) == ["processed", "bounce"]
    hook = receiver.wait_for(lambda d: d.headers.get("x-scaisend-event") == "bounce")[0]
    event = json.loads(hook.body)
    assert event["status"] == "5.1.1" and event["type"] == "bounce"
    assert event["bounce_classification"] == "Invalid Address"
    assert "user unknown" in event["reason"] and event["mx"] == "mx.example.com"
    assert event["order"] == "42"  # custom args ride along, flattened as SendGrid does
    assert sink.snapshot() == []


def test_a_deferred_recipient_is_retried_until_delivered(
    scaisend: ScaisendServer, dns_server: DnsServer, sink: SmtpSink
) -> None:
    _, key = account_with_key(scaisend, dns_server)
    sink.reject["slow@example.com"] = "451 4.2.0 mailbox busy, try later"
    message_id = send(scaisend, key, "slow@example.com", "fast@example.com")
    deferred = wait_for_status(scaisend, key, message_id, "deferred")
    first_deferral = next(e for e in deferred["events"] if e["event_type"] == "deferred")
    assert first_deferral["email"] == "slow@example.com"
    assert first_deferral["data"]["status"] == "4.2.0"
    assert first_deferral["data"]["attempt"] == 1
    assert [m.rcpt_tos for m in sink.wait_for(1)] == [["fast@example.com"]]
    del sink.reject["slow@example.com"]
    delivered = wait_for_status(scaisend, key, message_id, "delivered")
    kinds = events_of(delivered)
    assert kinds.count("deferred") >= 1 and kinds.count("delivered") == 2
    assert sorted(m.rcpt_tos[0] for m in sink.wait_for(2)) == [
        "fast@example.com",
        "slow@example.com",
    ]
    last = [e for e in delivered["events"] if e["email"] == "slow@example.com"][-1]
    assert last["event_type"] == "delivered" and last["data"]["attempt"] >= 2


def test_a_failing_webhook_is_retried(
    scaisend: ScaisendServer, dns_server: DnsServer, sink: SmtpSink, receiver: WebhookReceiver
) -> None:
    token, key = account_with_key(scaisend, dns_server)
    admin(
        scaisend,
        token,
        "POST",
        "/v3/user/webhooks",
        {"url": receiver.url, "enabled_events": ["delivered"]},
    )
    receiver.status = 500
    message_id = send(scaisend, key, "ada@example.com")
    receiver.wait_for(lambda d: d.headers.get("x-scaisend-event") == "delivered")
    receiver.status = 200
    import time

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len(receiver.deliveries) < 2:
        time.sleep(0.1)
    bodies = [json.loads(d.body) for d in receiver.deliveries]
    assert len(bodies) >= 2, "the failed webhook delivery was not retried"
    assert {b["event_id"] for b in bodies} == {bodies[0]["event_id"]}
    assert all(b["message_id"] == message_id for b in bodies)


def dsn(original_rcpt: str, verp: str) -> bytes:
    """A Postfix-style RFC 3464 report, as remote MTAs send them."""
    return (
        "From: MAILER-DAEMON@example.com\r\n"
        f"To: {verp}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n'
        "\r\n--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered."
        "\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.com\r\n\r\n"
        f"Final-Recipient: rfc822; {original_rcpt}\r\nAction: failed\r\nStatus: 5.2.2\r\n"
        "Diagnostic-Code: smtp; 552 5.2.2 mailbox full\r\n"
        "\r\n--B--\r\n"
    ).encode()


def test_a_dsn_to_the_verp_address_becomes_a_bounce(
    scaisend: ScaisendServer, dns_server: DnsServer, sink: SmtpSink
) -> None:
    _, key = account_with_key(scaisend, dns_server)
    message_id = send(scaisend, key, "ada@example.com")
    received = sink.wait_for(1)[0]
    wait_for_status(scaisend, key, message_id, "delivered")
    with smtplib.SMTP("127.0.0.1", scaisend.mx_port, timeout=30) as mx:
        mx.ehlo("mx.example.com")
        mx.sendmail("", [received.mail_from], dsn("ada@example.com", received.mail_from))
        with pytest.raises(smtplib.SMTPRecipientsRefused) as relay:
            mx.sendmail("", ["someone@elsewhere.example.org"], b"Subject: x\r\n\r\nx")
    assert relay.value.recipients["someone@elsewhere.example.org"][0] == 554
    message = wait_for_status(scaisend, key, message_id, "bounced")
    bounce = message["events"][-1]
    assert bounce["event_type"] == "bounce"
    assert bounce["data"]["status"] == "5.2.2"
    assert bounce["data"]["bounce_classification"] == "Mailbox Unavailable"
