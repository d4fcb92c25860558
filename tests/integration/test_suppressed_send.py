"""A suppressed address gets a dropped event and nothing reaches the MX: hard bounces,
invalid addresses and blocks from a real MX sink fill the lists; the next send drops the
bounced, invalid, unsubscribed and group-unsubscribed recipients (HTTP and SMTP submission),
keeps the blocked one (SendGrid does not suppress blocks), and the bypass settings work."""

from __future__ import annotations

import json
import smtplib
import time
from email.message import EmailMessage
from typing import Any

from tests.support.api import account_with_key, admin, post_send, wait_for_status
from tests.support.dns_server import DnsServer
from tests.support.raw_smtp import insecure_tls
from tests.support.server import ScaisendServer
from tests.support.sink import SmtpSink
from tests.support.suppressions import BAD, BLOCKED, GONE, LEFT, OK, UNSUB, mail


def wait_for_list(server: ScaisendServer, token: str, path: str, count: int) -> list[Any]:
    deadline = time.monotonic() + 20
    body: list[Any] = []
    while time.monotonic() < deadline:
        body = admin(server, token, "GET", path).json()
        if len(body) >= count:
            return body
        time.sleep(0.1)
    raise AssertionError(f"{path} never had {count} entries: {body}")


def dropped(logged: dict[str, Any]) -> dict[str, str]:
    return {
        e["email"]: e["data"]["reason"] for e in logged["events"] if e["event_type"] == "dropped"
    }


def rcpts(sink: SmtpSink) -> list[str]:
    return sorted(r for m in sink.snapshot() for r in m.rcpt_tos)


def wait_for_rcpts(sink: SmtpSink, count: int) -> list[str]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len(rcpts(sink)) < count:
        time.sleep(0.05)
    return rcpts(sink)


def fill_lists(scaisend: ScaisendServer, token: str, key: str, sink: SmtpSink) -> int:
    """Bounces from the MX put GONE on bounces, BAD on invalid_emails, BLOCKED on blocks;
    UNSUB is unsubscribed globally and LEFT from a new group, whose id is returned."""
    sink.reject[GONE] = "550 5.1.1 no such user"
    sink.reject[BAD] = "550 5.1.2 no such domain"
    sink.reject[BLOCKED] = "554 5.7.1 blocked by policy"
    response = post_send(scaisend, key, mail([GONE, BAD, BLOCKED, OK]))
    assert response.status_code == 202, response.text
    wait_for_status(scaisend, key, response.json()["message_id"], "delivered")
    assert wait_for_rcpts(sink, 1) == [OK]
    bounces = wait_for_list(scaisend, token, "/v3/suppression/bounces", 1)
    assert [(b["email"], b["status"]) for b in bounces] == [(GONE, "5.1.1")]
    assert [
        i["email"] for i in wait_for_list(scaisend, token, "/v3/suppression/invalid_emails", 1)
    ] == [BAD]
    assert [b["email"] for b in wait_for_list(scaisend, token, "/v3/suppression/blocks", 1)] == [
        BLOCKED
    ]
    why = admin(scaisend, token, "GET", f"/v3/suppression/why/{GONE}").json()
    assert [(w["list"], w["source"], w["event"]["type"]) for w in why] == [
        ("bounces", "event", "bounce")
    ]
    assert why[0]["event"]["message_id"] == response.json()["message_id"]
    added = admin(
        scaisend, token, "POST", "/v3/asm/suppressions/global", {"recipient_emails": [UNSUB]}
    )
    assert added.status_code == 201, added.text
    group = admin(scaisend, token, "POST", "/v3/asm/groups", {"name": "News", "description": "n"})
    assert group.status_code == 201, group.text
    group_id = int(group.json()["id"])
    left = admin(
        scaisend,
        token,
        "POST",
        f"/v3/asm/groups/{group_id}/suppressions",
        {"recipient_emails": [LEFT]},
    )
    assert left.status_code == 201, left.text
    return group_id


def test_suppressed_recipients_are_dropped(
    scaisend: ScaisendServer, dns_server: DnsServer, sink: SmtpSink
) -> None:
    token, key = account_with_key(scaisend, dns_server)
    group_id = fill_lists(scaisend, token, key, sink)
    before = len(sink.snapshot())

    # Unknown group: refused before anything is queued.
    unknown = post_send(scaisend, key, mail([OK], asm={"group_id": group_id + 99}))
    assert unknown.status_code == 400 and unknown.json()["errors"][0]["field"] == "asm.group_id"

    # Every recipient of the first personalization is suppressed: it is not spooled at all.
    body = mail([GONE, BAD], [BLOCKED, UNSUB, LEFT, "Ok@example.com"], asm={"group_id": group_id})
    response = post_send(scaisend, key, body)
    assert response.status_code == 202, response.text
    message_id = response.json()["message_id"]
    logged = wait_for_status(scaisend, key, message_id, "delivered")
    assert dropped(logged) == {
        GONE: "Bounced Address",
        BAD: "Invalid",
        UNSUB: "Unsubscribed Address",
        LEFT: "Unsubscribed Address",
    }
    assert sorted(logged["to_emails"]) == sorted(
        [GONE, BAD, BLOCKED, UNSUB, LEFT, "Ok@example.com"]
    )
    processed = {e["email"] for e in logged["events"] if e["event_type"] == "processed"}
    assert processed == {BLOCKED, "Ok@example.com"}
    wait_for_status(scaisend, key, message_id, "delivered")
    received = sink.snapshot()[before:]
    assert [r for m in received for r in m.rcpt_tos] == ["Ok@example.com"]  # BLOCKED refused again

    # Everyone dropped: still 202, nothing queued, the log says dropped.
    all_gone = post_send(scaisend, key, mail([GONE, UNSUB]))
    assert all_gone.status_code == 202, all_gone.text
    wait_for_status(scaisend, key, all_gone.json()["message_id"], "dropped")


def test_bypass_settings(scaisend: ScaisendServer, dns_server: DnsServer, sink: SmtpSink) -> None:
    token, key = account_with_key(scaisend, dns_server)
    group_id = fill_lists(scaisend, token, key, sink)
    asm = {"group_id": group_id}

    def send(settings: dict[str, Any], *to: str) -> dict[str, str]:
        body = mail(list(to), asm=asm, mail_settings={s: {"enable": True} for s in settings})
        response = post_send(scaisend, key, body)
        assert response.status_code == 202, response.text
        message_id = response.json()["message_id"]
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            logged = admin(scaisend, token, "GET", f"/v3/messages/{message_id}").json()
            events = {
                e["email"] for e in logged.get("events", []) if e["event_type"] != "processed"
            }
            if events >= set(to):
                return dropped(logged)
            time.sleep(0.1)
        raise AssertionError(f"not settled: {logged}")

    # bypass_unsubscribe_management lifts the global list only, never the group's.
    assert send({"bypass_unsubscribe_management": 1}, UNSUB, LEFT) == {LEFT: "Unsubscribed Address"}
    assert send({"bypass_bounce_management": 1}, GONE, BAD) == {BAD: "Invalid"}
    assert send({"bypass_list_management": 1}, LEFT, UNSUB) == {}
    assert UNSUB in rcpts(sink) and LEFT in rcpts(sink)


def test_smtp_submission_drops_group_unsubscribes(
    scaisend: ScaisendServer, dns_server: DnsServer, sink: SmtpSink
) -> None:
    token, key = account_with_key(scaisend, dns_server)
    group_id = fill_lists(scaisend, token, key, sink)
    before = len(sink.snapshot())
    msg = EmailMessage()
    msg["From"] = "hello@mail.example.com"
    msg["To"] = f"{LEFT}, {OK}"
    msg["Subject"] = "via SMTP"
    msg["X-SMTPAPI"] = json.dumps({"asm_group_id": group_id})
    msg.set_content("Hello\n")
    with smtplib.SMTP_SSL(
        "127.0.0.1", scaisend.smtps_port, timeout=30, context=insecure_tls()
    ) as smtp:
        smtp.login("apikey", key)
        smtp.send_message(msg, to_addrs=[LEFT, OK, UNSUB])
        msg.replace_header("X-SMTPAPI", json.dumps({"asm_group_id": group_id + 99}))
        try:
            smtp.send_message(msg, to_addrs=[OK])
            raise AssertionError("an unknown asm_group_id was accepted")
        except smtplib.SMTPDataError as refused:
            assert refused.smtp_code == 550
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len(sink.snapshot()) <= before:
        time.sleep(0.05)
    received = sink.snapshot()[before:]
    assert [r for m in received for r in m.rcpt_tos] == [OK]
    message_id = received[0].data.split(b"X-ScaiSend-Message-Id: ")[1].split(b"\r\n")[0].decode()
    logged = wait_for_status(scaisend, key, message_id, "delivered")
    assert dropped(logged) == {LEFT: "Unsubscribed Address", UNSUB: "Unsubscribed Address"}
