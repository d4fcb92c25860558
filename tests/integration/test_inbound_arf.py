"""A feedback-loop complaint over SMTP: an ARF report attaching our message as the recipient's
MX received it (with its signed Return-Path), sent to our MX at the operator's FBL address
and DKIM-signed by the provider, becomes one spam_report event for that message and
recipient, a spam_reports suppression and a signed webhook; unsigned, it counts for nothing."""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import json
import smtplib
import time
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from typing import Any

import dkim
import httpx
import pytest

from mta.services.dns_records import generate_dkim_key
from tests.support.api import account_with_key, admin, send, wait_for_status
from tests.support.dns_server import DnsServer, txt_value
from tests.support.server import ScaisendServer
from tests.support.servers import ServerFactory
from tests.support.sink import SmtpSink
from tests.support.webhook_receiver import WebhookReceiver

FBL_DOMAIN = "fbl.scaisend.test"
PROVIDER = "isp.example.net"


@pytest.fixture
def fbl_server(make_server: ServerFactory) -> ScaisendServer:
    # the FBL address's domain is accepted without being listed in inbound_domains
    return make_server({"inbound": {"fbl_addresses": [f"fbl@{FBL_DOMAIN}"]}})


def provider_signed(report: bytes, dns_server: DnsServer) -> bytes:
    """`report` DKIM-signed by the provider, its key published in DNS."""
    key = generate_dkim_key(1024)
    dns_server.add(
        f"fbl._domainkey.{PROVIDER}", "TXT", txt_value(f"v=DKIM1; k=rsa; p={key.public_b64}")
    )
    return dkim.sign(report, b"fbl", PROVIDER.encode(), key.private_pem.encode()) + report


def arf_report(original: bytes, complained: str) -> bytes:
    """An RFC 5965 abuse report as mailbox providers send them, our message attached."""
    report = MIMEMultipart("report", report_type="feedback-report")
    report["From"] = "Feedback Loop <fbl@isp.example.net>"
    report["To"] = f"fbl@{FBL_DOMAIN}"
    report["Subject"] = "Abuse report"
    report.attach(MIMEText("This is an email abuse report for an email message received."))
    fields = Message()
    for name, value in [
        ("Feedback-Type", "abuse"),
        ("User-Agent", "ISP-FBL/2.1"),
        ("Version", "1"),
        ("Original-Mail-From", "<bounces@example.invalid>"),
        ("Original-Rcpt-To", f"<{complained}>"),
        ("Reporting-MTA", "dns; fbl.isp.example.net"),
    ]:
        fields[name] = value
    feedback = MIMEBase("message", "feedback-report")
    feedback.set_payload([fields])
    report.attach(feedback)
    report.attach(MIMEMessage(email.message_from_bytes(original, policy=email.policy.compat32)))
    return report.as_bytes(policy=email.policy.SMTP)


def spam_reports(server: ScaisendServer, key: str, message_id: str) -> list[dict[str, Any]]:
    body = httpx.get(
        f"{server.base_url}/v3/messages/{message_id}",
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    ).json()
    return [e for e in body["events"] if e["event_type"] == "spam_report"]


def test_an_arf_complaint_becomes_one_spam_report_a_suppression_and_a_webhook(
    fbl_server: ScaisendServer, dns_server: DnsServer, sink: SmtpSink, receiver: WebhookReceiver
) -> None:
    server = fbl_server
    token, key = account_with_key(server, dns_server)
    hook = admin(
        server,
        token,
        "POST",
        "/v3/user/webhooks",
        {"url": receiver.url, "enabled_events": ["spam_report"]},
    )
    assert hook.status_code in (200, 201), hook.text
    secret = hook.json()["signing_secret"]
    message_id = send(server, key, "ada@example.com")
    delivered = sink.wait_for(1)[0]
    wait_for_status(server, key, message_id, "delivered")

    # the recipient's MX records the (signed) return path as it delivers
    received = f"Return-Path: <{delivered.mail_from}>\r\n".encode() + delivered.data
    report = arf_report(received, "ada@example.com")
    with smtplib.SMTP("127.0.0.1", server.mx_port, timeout=30) as mx:
        mx.ehlo("fbl.isp.example.net")
        # unsigned: anyone could have sent it, so it counts for nothing
        assert mx.sendmail("fbl@isp.example.net", [f"fbl@{FBL_DOMAIN}"], report) == {}
        signed = provider_signed(report, dns_server)
        for _ in range(2):  # a provider that sends its report twice
            refused = mx.sendmail("fbl@isp.example.net", [f"fbl@{FBL_DOMAIN}"], signed)
            assert refused == {}

    deadline, found = time.monotonic() + 20, []
    while time.monotonic() < deadline and not found:
        found = spam_reports(server, key, message_id)
        time.sleep(0.1)
    [complaint] = found
    assert complaint["email"] == "ada@example.com"
    assert complaint["data"]["feedback_type"] == "abuse"
    assert complaint["data"]["source"] == "fbl.isp.example.net"

    listed = admin(server, token, "GET", "/v3/suppression/spam_reports")
    assert listed.status_code == 200, listed.text
    assert [entry["email"] for entry in listed.json()] == ["ada@example.com"]

    delivery = receiver.wait_for(lambda d: d.headers.get("x-scaisend-event") == "spam_report")[0]
    expected = hmac.new(
        secret.encode(),
        f"{delivery.headers['x-scaisend-timestamp']}.".encode() + delivery.body,
        hashlib.sha256,
    ).hexdigest()
    assert hmac.compare_digest(delivery.headers["x-scaisend-signature"], expected)
    event = json.loads(delivery.body)
    event = event[0] if isinstance(event, list) else event
    assert event["event"] == "spam_report" and event["message_id"] == message_id
    assert event["email"] == "ada@example.com" and event["order"] == "42"

    # all three were recorded: the unsigned one and the second copy gave nothing
    log = server.log()
    assert log.count("event=inbound ") == 3
    assert "dkim=none" in log and "not DKIM-signed by its From domain" in log
    assert "kind=arf" in log and "dkim=pass" in log and "events=spam_report" in log
    assert len(spam_reports(server, key, message_id)) == 1
