"""SMTP submission end to end: AUTH with an API key on the STARTTLS port and on the implicit
TLS port, the same intake, signing, delivery to the MX sink and message log as HTTP."""

from __future__ import annotations

import base64
import json
import smtplib
import time
from email.message import EmailMessage

import dkim
import httpx
import pytest

from tests.support.api import (
    account_with_key,
    admin,
    dkim_dns,
    set_up_account,
    wait_for_listed,
    wait_for_status,
)
from tests.support.dns_server import DnsServer
from tests.support.raw_smtp import insecure_tls
from tests.support.server import ScaisendServer
from tests.support.sink import SmtpSink
from tests.support.webhook_receiver import WebhookReceiver


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
        starttls.starttls(context=insecure_tls())
        starttls.ehlo("client.test")
        assert "PLAIN" in starttls.esmtp_features["auth"]
        starttls.login("apikey", key)
        starttls.send_message(message("ada@example.com", "via 587"))

    with smtplib.SMTP_SSL(
        "127.0.0.1", scaisend.smtps_port, timeout=30, context=insecure_tls()
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
        "127.0.0.1", scaisend.smtps_port, timeout=30, context=insecure_tls()
    ) as client:
        client.ehlo()
        for user, password in (("apikey", "SS.bad.key"), ("apikey", no_send), ("someone", key)):
            client.user, client.password = user, password
            with pytest.raises(smtplib.SMTPAuthenticationError) as failure:
                # One AUTH each: login() tries every mechanism, and each failure counts
                # towards [smtp] auth_failure_limit.
                client.auth("PLAIN", client.auth_plain)
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


def submit_587(server: ScaisendServer, key: str, raw: bytes, rcpt: str) -> None:
    with smtplib.SMTP("127.0.0.1", server.submission_port, timeout=30) as client:
        client.starttls(context=insecure_tls())
        client.ehlo("client.test")
        client.login("apikey", key)
        client.sendmail("hello@mail.example.com", [rcpt], raw)


def with_smtpapi(rcpt: str, smtpapi: bytes) -> bytes:
    return (
        b"From: Acme <hello@mail.example.com>\r\nTo: " + rcpt.encode() + b"\r\n"
        b"X-SMTPAPI: " + smtpapi + b"\r\nSubject: tagged\r\n\r\nHello\r\n"
    )


def test_x_smtpapi_tags_the_message_and_is_removed_and_received_names_tls(
    scaisend: ScaisendServer, dns_server: DnsServer, sink: SmtpSink, receiver: WebhookReceiver
) -> None:
    token = scaisend.token()
    set_up_account(scaisend, dns_server, token)
    key = make_key(scaisend, token)
    hook = admin(
        scaisend,
        token,
        "POST",
        "/v3/user/webhooks",
        {"url": receiver.url, "enabled_events": ["processed", "delivered"]},
    )
    assert hook.status_code == 201, hook.text
    smtpapi = b'{"category": ["welcome", "caf\\u00e9"],\r\n "unique_args": {"order": "42"}}'
    submit_587(scaisend, key, with_smtpapi("ada@example.com", smtpapi), "ada@example.com")

    data = sink.wait_for(1)[0].data
    assert b"x-smtpapi" not in data.lower()
    assert b"unique_args" not in data
    assert dkim.verify(data, dnsfunc=dkim_dns(dns_server))
    received = data.split(b"\r\nDKIM-Signature:")[0].split(b"Received: ", 1)[1].split(b";")[0]
    assert received.startswith(b"from client.test (unknown [127.0.0.1])")
    assert b"(using TLSv1." in received and b" with cipher " in received
    message_id = data.split(b"X-ScaiSend-Message-Id: ")[1].split(b"\r\n")[0].decode()
    assert received.endswith(b" with ESMTPSA id " + message_id.encode())

    logged = wait_for_status(scaisend, key, message_id, "delivered")
    assert logged["categories"] == ["welcome", "caf\u00e9"]
    assert all(e["data"]["categories"] == ["welcome", "caf\u00e9"] for e in logged["events"])
    deliveries = receiver.wait_for(lambda d: d.headers.get("x-scaisend-event") == "delivered")
    event = json.loads(deliveries[0].body)
    assert (event["message_id"], event["order"]) == (message_id, "42")
    assert event["categories"] == ["welcome", "caf\u00e9"]


@pytest.mark.parametrize(
    ("smtpapi", "reason"),
    [
        (b'{"category": "welcome"', b"not valid JSON"),
        (b'{"unique_args": {"order": 42}}', b"Expected `str`, got `int`"),
        (b'{"to": ["eve@example.com"]}', b"not supported"),
    ],
)
def test_a_malformed_x_smtpapi_is_refused_and_nothing_is_queued(
    scaisend: ScaisendServer,
    dns_server: DnsServer,
    sink: SmtpSink,
    smtpapi: bytes,
    reason: bytes,
) -> None:
    token = scaisend.token()
    set_up_account(scaisend, dns_server, token)
    key = make_key(scaisend, token)
    with pytest.raises(smtplib.SMTPDataError) as refused:
        submit_587(scaisend, key, with_smtpapi("ada@example.com", smtpapi), "ada@example.com")
    assert refused.value.smtp_code == 550
    assert refused.value.smtp_error.startswith(b"5.6.0 Invalid X-SMTPAPI header: ")
    assert reason in refused.value.smtp_error
    # A good message sent afterwards is the only one logged and delivered.
    submit_587(scaisend, key, with_smtpapi("bob@example.com", b"{}"), "bob@example.com")
    [delivered] = sink.wait_for(1)
    message_id = delivered.data.split(b"X-ScaiSend-Message-Id: ")[1].split(b"\r\n")[0].decode()
    wait_for_status(scaisend, key, message_id, "delivered")
    listed = httpx.get(
        f"{scaisend.base_url}/v3/messages",
        params={"page_size": 10},
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    assert [m["to_emails"] for m in listed["messages"]] == [["bob@example.com"]]
    assert [m.rcpt_tos for m in sink.snapshot()] == [["bob@example.com"]]


@pytest.mark.parametrize("sink", [{"smtputf8": True}, {"smtputf8": False}], indirect=True)
def test_a_utf8_recipient_needs_smtputf8_at_the_next_hop(
    scaisend: ScaisendServer, dns_server: DnsServer, sink: SmtpSink
) -> None:
    """RFC 6531: a UTF-8 envelope goes out with SMTPUTF8, and to a hop without it the
    message bounces (5.6.7) rather than being downgraded."""
    _, key = account_with_key(scaisend, dns_server)
    raw = "From: hello@mail.example.com\r\nTo: 用户@example.com\r\nSubject: utf8\r\n\r\nhi\r\n"
    with smtplib.SMTP_SSL(
        "127.0.0.1", scaisend.smtps_port, timeout=30, context=insecure_tls()
    ) as client:
        client.login("apikey", key)
        client.sendmail("hello@mail.example.com", ["用户@example.com"], raw.encode(), ["SMTPUTF8"])
    message_id = wait_for_listed(scaisend, key)
    if sink.smtputf8:
        wait_for_status(scaisend, key, message_id, "delivered")
        assert [m.rcpt_tos for m in sink.snapshot()] == [["用户@example.com"]]
    else:
        logged = wait_for_status(scaisend, key, message_id, "bounced")
        assert "5.6.7" in json.dumps(logged["events"])
        assert sink.snapshot() == []


def test_a_test_key_over_smtp_runs_the_pipeline_but_sends_nothing(
    scaisend: ScaisendServer, dns_server: DnsServer, sink: SmtpSink
) -> None:
    """As on HTTP: the whole intake and its events, and nothing leaves the machine."""
    token = scaisend.token()
    set_up_account(scaisend, dns_server, token)
    key = make_key(scaisend, token, environment="test")
    with smtplib.SMTP_SSL(
        "127.0.0.1", scaisend.smtps_port, timeout=30, context=insecure_tls()
    ) as client:
        client.login("apikey", key)
        client.send_message(message("ada@example.com", "sandboxed"))
    logged = wait_for_status(scaisend, key, wait_for_listed(scaisend, key), "delivered")
    assert logged["subject"] == "sandboxed"
    assert sink.snapshot() == []


def test_x_smtpapi_send_at_schedules_the_message(
    scaisend: ScaisendServer, dns_server: DnsServer, sink: SmtpSink
) -> None:
    token = scaisend.token()
    set_up_account(scaisend, dns_server, token)
    key = make_key(scaisend, token)
    due = int(time.time()) + 4
    smtpapi = json.dumps({"send_at": due}).encode()
    submit_587(scaisend, key, with_smtpapi("ada@example.com", smtpapi), "ada@example.com")
    time.sleep(1.5)
    assert sink.snapshot() == []  # spooled and acknowledged, not yet sent
    data = sink.wait_for(1)[0].data
    assert time.time() >= due
    assert b"X-SMTPAPI" not in data


def test_a_submitted_return_path_is_not_passed_on(
    scaisend: ScaisendServer, dns_server: DnsServer, sink: SmtpSink
) -> None:
    """Return-Path belongs to the envelope: the MTA that delivers writes it (RFC 5321 §4.4),
    so the client's own (folded or not, any case) never leaves, and the DKIM signature holds."""
    token = scaisend.token()
    set_up_account(scaisend, dns_server, token)
    key = make_key(scaisend, token)
    raw = (
        b"Return-Path: <bounces@attacker.example>\r\n"
        b"From: Acme <hello@mail.example.com>\r\nTo: ada@example.com\r\n"
        b"RETURN-PATH:\r\n <again@attacker.example>\r\nSubject: envelope\r\n\r\n"
        b"Return-Path: in the body stays\r\n"
    )
    submit_587(scaisend, key, raw, "ada@example.com")
    [delivered] = sink.wait_for(1)
    head, _, body = delivered.data.partition(b"\r\n\r\n")
    assert b"attacker.example" not in head and b"return-path" not in head.lower()
    assert body == b"Return-Path: in the body stays\r\n"
    assert b"Subject: envelope" in head
    assert dkim.verify(delivered.data, dnsfunc=dkim_dns(dns_server))
