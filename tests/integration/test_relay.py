"""Trusted networks: clients in `[smtp] relay_networks` relay through the MX listener without
AUTH, as the relay account; its own domains are signed and VERP-addressed, others pass on
with the client's envelope sender. Untrusted clients still only reach our own domains."""

from __future__ import annotations

import smtplib

import dkim
import httpx
import pytest

from tests.support.api import dkim_dns, set_up_account
from tests.support.dns_server import DnsServer
from tests.support.server import ScaisendServer
from tests.support.sink import SmtpSink


def relay(
    server: ScaisendServer, sender: str, rcpt: str, header_from: str, source: str = "127.0.0.1"
) -> None:
    with smtplib.SMTP(
        "127.0.0.1", server.mx_port, timeout=30, source_address=(source, 0)
    ) as client:
        client.ehlo("app.internal")
        client.sendmail(
            sender,
            [rcpt],
            (f"From: {header_from}\r\nTo: {rcpt}\r\nSubject: relayed\r\n\r\nHello\r\n").encode(),
        )


def test_trusted_clients_relay_and_the_account_domain_is_signed(
    relay_server: ScaisendServer, dns_server: DnsServer, sink: SmtpSink
) -> None:
    set_up_account(relay_server, dns_server, relay_server.token("acme"))
    relay(relay_server, "app@mail.example.com", "ada@example.com", "hello@mail.example.com")
    relay(relay_server, "app@other.example.org", "bob@example.com", "app@other.example.org")
    received = {m.rcpt_tos[0]: m for m in sink.wait_for(2)}
    signed = received["ada@example.com"]
    assert signed.mail_from.startswith("bounces+")
    assert signed.mail_from.endswith("@bounces.mail.example.com")
    assert dkim.verify(signed.data, dnsfunc=dkim_dns(dns_server))
    trace = signed.data.split(b"Received: ", 1)[1].split(b";")[0]
    assert trace.startswith(b"from app.internal (unknown [127.0.0.1])")
    assert b"(ScaiSend) with ESMTP id " in trace and b"using" not in trace
    passed_on = received["bob@example.com"]
    assert passed_on.mail_from == "app@other.example.org"
    assert b"DKIM-Signature" not in passed_on.data
    assert b"X-ScaiSend-Message-Id: " in passed_on.data


def test_clients_outside_the_networks_cannot_relay(
    relay_server: ScaisendServer, sink: SmtpSink
) -> None:
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        relay(
            relay_server,
            "app@other.example.org",
            "bob@example.com",
            "app@other.example.org",
            source="127.0.0.3",
        )
    assert refused.value.recipients["bob@example.com"][0] == 554
    assert sink.snapshot() == []


def test_a_message_with_too_many_hops_is_refused_as_a_loop(
    relay_server: ScaisendServer, sink: SmtpSink
) -> None:
    hops = "".join(f"Received: from hop{n}.example by hop{n + 1}.example\r\n" for n in range(51))
    with smtplib.SMTP("127.0.0.1", relay_server.mx_port, timeout=30) as client:
        client.ehlo("app.internal")
        with pytest.raises(smtplib.SMTPDataError) as refused:
            client.sendmail(
                "app@other.example.org",
                ["bob@example.com"],
                (hops + "From: app@other.example.org\r\nSubject: loop\r\n\r\nx\r\n").encode(),
            )
    assert refused.value.smtp_code == 554
    assert refused.value.smtp_error.startswith(b"5.4.6")
    assert sink.snapshot() == []


def test_relayed_mail_honours_and_loses_its_x_smtpapi_header(
    relay_server: ScaisendServer, sink: SmtpSink
) -> None:
    with smtplib.SMTP("127.0.0.1", relay_server.mx_port, timeout=30) as client:
        client.ehlo("app.internal")
        client.sendmail(
            "app@other.example.org",
            ["bob@example.com"],
            b'From: app@other.example.org\r\nX-SMTPAPI: {"category": "relayed"}\r\n'
            b"Subject: tagged\r\n\r\nHello\r\n",
        )
    data = sink.wait_for(1)[0].data
    assert b"X-SMTPAPI" not in data and b"Subject: tagged" in data
    message_id = data.split(b"X-ScaiSend-Message-Id: ")[1].split(b"\r\n")[0].decode()
    logged = httpx.get(
        f"{relay_server.base_url}/v3/messages/{message_id}",
        headers={"Authorization": f"Bearer {relay_server.token('acme')}"},
    )
    assert logged.status_code == 200, logged.text
    assert logged.json()["categories"] == ["relayed"]
