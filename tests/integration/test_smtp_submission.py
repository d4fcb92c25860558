"""SMTP submission end to end: AUTH with an API key on the STARTTLS port and on the implicit
TLS port, the same intake, signing, delivery to the MX sink and message log as HTTP."""

from __future__ import annotations

import base64
import smtplib
import ssl
from email.message import EmailMessage

import dkim
import httpx
import pytest

from tests.support.api import (
    admin,
    dkim_dns,
    set_up_account,
    wait_for_status,
)
from tests.support.dns_server import DnsServer
from tests.support.server import ScaisendServer
from tests.support.sink import SmtpSink


def client_tls() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def message(to: str, subject: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Acme <hello@mail.example.com>"
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content("Sent over SMTP submission.\n")
    return msg


def make_key(
    server: ScaisendServer, token: str, environment: str = "live", scopes: list[str] | None = None
) -> str:
    response = admin(
        server,
        token,
        "POST",
        "/v3/api_keys",
        {
            "name": f"smtp-{environment}",
            "environment": environment,
            "scopes": scopes or ["mail.send"],
        },
    )
    assert response.status_code == 201, response.text
    return str(response.json()["api_key"])


def test_submission_on_both_ports_reaches_the_mx_signed(
    scaisend: ScaisendServer, dns_server: DnsServer, sink: SmtpSink
) -> None:
    token = scaisend.token()
    set_up_account(scaisend, dns_server, token)
    key = make_key(scaisend, token)

    with smtplib.SMTP("127.0.0.1", scaisend.submission_port, timeout=30) as starttls:
        starttls.ehlo("client.test")
        assert "auth" not in starttls.esmtp_features
        code, _ = starttls.docmd(
            "AUTH", "PLAIN " + base64.b64encode(b"\0apikey\0" + key.encode()).decode()
        )
        assert code in (530, 538)
        starttls.starttls(context=client_tls())
        starttls.ehlo("client.test")
        assert "PLAIN" in starttls.esmtp_features["auth"]
        starttls.login("apikey", key)
        starttls.send_message(message("ada@example.com", "via 587"))

    with smtplib.SMTP_SSL(
        "127.0.0.1", scaisend.smtps_port, timeout=30, context=client_tls()
    ) as implicit:
        implicit.ehlo("client.test")
        implicit.login("apikey", key)
        refused = implicit.send_message(message("bob@example.com", "via 465"))
        assert refused == {}

    received = sink.wait_for(2)
    by_rcpt = {m.rcpt_tos[0]: m for m in received}
    assert set(by_rcpt) == {"ada@example.com", "bob@example.com"}
    for rcpt, subject in (("ada@example.com", b"via 587"), ("bob@example.com", b"via 465")):
        data = by_rcpt[rcpt].data
        assert subject in data
        assert dkim.verify(data, dnsfunc=dkim_dns(dns_server))
        assert by_rcpt[rcpt].mail_from.endswith("@bounces.mail.example.com")
        message_id = data.split(b"X-ScaiSend-Message-Id: ")[1].split(b"\r\n")[0].decode()
        logged = wait_for_status(scaisend, key, message_id, "delivered")
        assert logged["subject"] == subject.decode()
        assert [e["event_type"] for e in logged["events"]] == ["processed", "delivered"]


def test_submission_refuses_bad_keys_and_foreign_senders(
    scaisend: ScaisendServer, dns_server: DnsServer, sink: SmtpSink
) -> None:
    token = scaisend.token()
    set_up_account(scaisend, dns_server, token)
    key = make_key(scaisend, token)
    no_send = make_key(scaisend, token, scopes=["templates.read"])
    with smtplib.SMTP_SSL(
        "127.0.0.1", scaisend.smtps_port, timeout=30, context=client_tls()
    ) as client:
        for user, password in (("apikey", "SS.bad.key"), ("apikey", no_send), ("someone", key)):
            with pytest.raises(smtplib.SMTPAuthenticationError) as failure:
                client.login(user, password)
            assert failure.value.smtp_code == 535
            assert failure.value.smtp_error.startswith(b"5.7.8")
        client.login("apikey", key)
        foreign = message("ada@example.com", "spoof")
        foreign.replace_header("From", "ceo@elsewhere.example.org")
        with pytest.raises(smtplib.SMTPDataError) as refused:
            client.send_message(foreign)
        assert refused.value.smtp_code == 550
        assert refused.value.smtp_error.startswith(b"5.7.1")
    assert sink.snapshot() == []
    listed = httpx.get(
        f"{scaisend.base_url}/v3/messages",
        params={"page_size": 10},
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    assert listed == {"messages": []}
