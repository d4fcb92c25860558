"""Drop-in proof: SendGrid's own Python library (PyPI `sendgrid`), pointed at our host and
otherwise unchanged, sends a plain mail, a dynamic-template mail, one with an attachment and
a scheduled one; each reaches the recipient's MX as sent."""

from __future__ import annotations

import base64
import email
import email.policy
import time
from email.message import EmailMessage

import dkim
import pytest
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import (
    Attachment,
    Disposition,
    FileContent,
    FileName,
    FileType,
    Mail,
    SendAt,
)

from tests.support.api import account_with_key, admin, dkim_dns, wait_for_status
from tests.support.dns_server import DnsServer
from tests.support.server import ScaisendServer
from tests.support.sink import SmtpSink

SENDER = "hello@mail.example.com"


def client(server: ScaisendServer, key: str) -> SendGridAPIClient:
    return SendGridAPIClient(api_key=key, host=server.base_url)


def delivered(server: ScaisendServer, sink: SmtpSink, key: str, response: object) -> EmailMessage:
    """The message as the sink received it, after checking the 202 and the message log."""
    assert getattr(response, "status_code", None) == 202
    message_id = getattr(response, "headers", {})["X-Message-Id"]
    wait_for_status(server, key, message_id, "delivered")
    data = next(m.data for m in sink.snapshot() if message_id.encode() in m.data)
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


@pytest.fixture
def key(scaisend: ScaisendServer, dns_server: DnsServer) -> str:
    return account_with_key(scaisend, dns_server)[1]


def test_a_plain_mail(
    scaisend: ScaisendServer, dns_server: DnsServer, sink: SmtpSink, key: str
) -> None:
    mail = Mail(
        from_email=SENDER,
        to_emails="ada@example.com",
        subject="Sending with SendGrid is Fun",
        html_content="<strong>and easy to do anywhere, even with Python</strong>",
    )
    message = delivered(scaisend, sink, key, client(scaisend, key).send(mail))
    assert message["Subject"] == "Sending with SendGrid is Fun"
    assert message["To"] == "ada@example.com"
    body = message.get_body(("html",))
    assert body is not None and "even with Python" in body.get_content()
    raw = next(m.data for m in sink.snapshot() if b"Sending with SendGrid" in m.data)
    assert dkim.verify(raw, dnsfunc=dkim_dns(dns_server))  # the bytes as they arrived


def test_a_dynamic_template_mail(
    scaisend: ScaisendServer, dns_server: DnsServer, sink: SmtpSink, key: str
) -> None:
    token = scaisend.token()
    template = admin(
        scaisend, token, "POST", "/v3/templates", {"name": "welcome", "generation": "dynamic"}
    ).json()
    version = {
        "name": "v1",
        "subject": "Welcome, {{{name}}}",  # triple braces: SendGrid escapes HTML in subjects too
        "html_content": "<p>Hello {{name}}{{#if vip}}, our VIP{{/if}}: {{length items}} items</p>",
        "plain_content": "Hello {{name}}",
    }
    created = admin(scaisend, token, "POST", f"/v3/templates/{template['id']}/versions", version)
    assert created.status_code == 201, created.text
    mail = Mail(from_email=SENDER, to_emails="ada@example.com")
    mail.template_id = template["id"]
    mail.dynamic_template_data = {"name": "Ada & Co", "vip": True, "items": [1, 2, 3]}
    message = delivered(scaisend, sink, key, client(scaisend, key).send(mail))
    assert message["Subject"] == "Welcome, Ada & Co"
    html = message.get_body(("html",))
    assert html is not None
    assert "Hello Ada &amp; Co, our VIP: 3 items" in html.get_content()


def test_a_mail_with_an_attachment(
    scaisend: ScaisendServer, dns_server: DnsServer, sink: SmtpSink, key: str
) -> None:
    pdf = b"%PDF-1.4 not really a pdf \x00\xff" * 100
    mail = Mail(
        from_email=SENDER,
        to_emails="ada@example.com",
        subject="Your invoice",
        plain_text_content="Attached.",
    )
    mail.attachment = Attachment(
        FileContent(base64.b64encode(pdf).decode()),
        FileName("invoice-2026.pdf"),
        FileType("application/pdf"),
        Disposition("attachment"),
    )
    message = delivered(scaisend, sink, key, client(scaisend, key).send(mail))
    attachments = list(message.iter_attachments())
    assert [a.get_filename() for a in attachments] == ["invoice-2026.pdf"]
    assert attachments[0].get_content_type() == "application/pdf"
    assert attachments[0].get_content() == pdf
    text = message.get_body(("plain",))
    assert text is not None and text.get_content().strip() == "Attached."


def test_a_scheduled_mail(scaisend: ScaisendServer, sink: SmtpSink, key: str) -> None:
    due = int(time.time()) + 4
    mail = Mail(
        from_email=SENDER, to_emails="ada@example.com", subject="Later", plain_text_content="x"
    )
    mail.send_at = SendAt(due)
    response = client(scaisend, key).send(mail)
    assert response.status_code == 202
    message_id = response.headers["X-Message-Id"]
    time.sleep(1.5)
    assert not any(message_id.encode() in m.data for m in sink.snapshot())  # not yet
    wait_for_status(scaisend, key, message_id, "delivered")
    assert time.time() >= due
    assert any(message_id.encode() in m.data for m in sink.snapshot())
