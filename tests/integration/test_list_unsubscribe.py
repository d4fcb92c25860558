"""List-Unsubscribe end to end: a message with an unsubscribe group or subscription tracking
carries the mailto and one-click headers (RFC 8058) and a footer link; GET shows a page and
changes nothing, the one-click POST unsubscribes from the group and the page's form
resubscribes; a mail to the mailto address over SMTP unsubscribes; SMTP submission with
X-SMTPAPI asm_group_id gets the headers too. Each leaves its event and its suppression."""

from __future__ import annotations

import email
import email.policy
import json
import re
import smtplib
import ssl
import time
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

import dkim
import httpx

from tests.support.api import account_with_key, admin, dkim_dns, wait_for_status
from tests.support.dns_server import DnsServer
from tests.support.server import ScaisendServer
from tests.support.sink import SmtpSink

HEADER = re.compile(r"<mailto:(unsub\+[a-z0-9]+@[\w.-]+)\?subject=unsubscribe>, <(\S+)>")


def send(server: ScaisendServer, key: str, **extra: Any) -> str:
    body: dict[str, Any] = {
        "personalizations": [{"to": [{"email": "ada@example.com"}]}],
        "from": {"email": "hello@mail.example.com"},
        "subject": "News",
        "content": [
            {"type": "text/plain", "value": "Hello"},
            {"type": "text/html", "value": "<html><body><p>Hello</p></body></html>"},
        ],
        "categories": ["news"],
    }
    body.update(extra)
    response = httpx.post(
        f"{server.base_url}/v3/mail/send",
        json=body,
        timeout=30,
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 202, response.text
    return str(response.json()["message_id"])


def received(sink: SmtpSink, count: int = 1) -> EmailMessage:
    message = email.message_from_bytes(sink.wait_for(count)[-1].data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def links(message: EmailMessage) -> tuple[str, str]:
    match = HEADER.fullmatch(" ".join(str(message["List-Unsubscribe"]).split()))
    assert match is not None, message["List-Unsubscribe"]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    return match.group(1), match.group(2)


def events_until(
    server: ScaisendServer, token: str, message_id: str, done: Callable[[list[Any]], bool]
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 20
    events: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        answer = admin(server, token, "GET", f"/v3/messages/{message_id}")
        events = list(answer.json().get("events") or []) if answer.status_code == 200 else []
        if done(events):
            return events
        time.sleep(0.1)
    raise AssertionError(f"events never arrived: {events}")


def named(kind: str) -> Callable[[list[Any]], bool]:
    return lambda events: any(e["event_type"] == kind for e in events)


def count(events: list[dict[str, Any]]) -> int:
    return sum(1 for e in events if e["event_type"] == "group_unsubscribe")


def test_one_click_group_unsubscribe_then_resubscribe(
    scaisend: ScaisendServer, sink: SmtpSink, dns_server: DnsServer
) -> None:
    token, key = account_with_key(scaisend, dns_server)
    group = admin(scaisend, token, "POST", "/v3/asm/groups", {"name": "Newsletter"}).json()
    message_id = send(
        scaisend,
        key,
        asm={"group_id": group["id"]},
        tracking_settings={"subscription_tracking": {"enable": True}},
    )
    raw = sink.wait_for(1)[0].data
    assert dkim.verify(raw, dnsfunc=dkim_dns(dns_server))
    message = received(sink)
    mailto, url = links(message)
    assert mailto.endswith("@bounces.mail.example.com")
    html = message.get_body(("html",))
    assert html is not None and f'href="{url}"'.replace("&", "&amp;") in html.get_content()
    wait_for_status(scaisend, key, message_id, "delivered")

    for _ in range(2):  # link scanners: GET shows the page and changes nothing
        page = httpx.get(url, timeout=10)
        assert page.status_code == 200 and "ada@example.com" in page.text
        assert 'value="resubscribe"' in page.text
    one_click = httpx.post(url, data={"List-Unsubscribe": "One-Click"}, timeout=10)
    assert one_click.status_code == 200, one_click.text
    events = events_until(scaisend, token, message_id, named("group_unsubscribe"))
    (unsubscribed,) = [e for e in events if e["event_type"] == "group_unsubscribe"]
    assert unsubscribed["data"]["asm_group_id"] == group["id"]
    assert unsubscribed["data"]["method"] == "one-click"
    assert unsubscribed["data"]["categories"] == ["news"]
    suppressed = admin(scaisend, token, "GET", f"/v3/asm/groups/{group['id']}/suppressions")
    assert "ada@example.com" in suppressed.text

    again = httpx.post(url, data={"action": "resubscribe"}, timeout=10)
    assert again.status_code == 200 and "subscribed again" in again.text
    events_until(scaisend, token, message_id, named("group_resubscribe"))
    deadline = time.monotonic() + 10
    while "ada@example.com" in suppressed.text and time.monotonic() < deadline:
        time.sleep(0.1)
        suppressed = admin(scaisend, token, "GET", f"/v3/asm/groups/{group['id']}/suppressions")
    assert "ada@example.com" not in suppressed.text
    multipart = httpx.post(url, files={"List-Unsubscribe": (None, "One-Click")}, timeout=10)
    assert multipart.status_code == 200  # RFC 8058 allows multipart/form-data too
    twice = events_until(scaisend, token, message_id, lambda ev: count(ev) == 2)
    assert [e["data"]["method"] for e in twice if e["event_type"] == "group_unsubscribe"] == [
        "one-click",
        "one-click",
    ]
    assert httpx.post(url[:-2] + "xy", data={"List-Unsubscribe": "One-Click"}).status_code == 404
    about = f"message_id={message_id} rcpt_index=0 destination=example.com"
    log = scaisend.log()  # one line per event, as delivery logs its outcomes
    unsubscribed_line = (
        f"event=group_unsubscribe {about} asm_group_id={group['id']} method=one-click"
    )
    assert log.count(unsubscribed_line) == 2
    assert log.count(f"event=group_resubscribe {about} asm_group_id={group['id']}") == 1


def test_mailto_unsubscribe_over_smtp(
    scaisend: ScaisendServer, sink: SmtpSink, dns_server: DnsServer
) -> None:
    token, key = account_with_key(scaisend, dns_server)
    message_id = send(scaisend, key, tracking_settings={"subscription_tracking": {"enable": True}})
    mailto, _ = links(received(sink))
    wait_for_status(scaisend, key, message_id, "delivered")
    local, _, host = mailto.partition("@")
    forged = f"{local[:-2]}{'aa' if not local.endswith('aa') else 'bb'}@{host}"
    request = EmailMessage()
    request["From"] = "ada@example.com"
    request["Subject"] = "unsubscribe"
    request.set_content("unsubscribe\n")
    with smtplib.SMTP("127.0.0.1", scaisend.mx_port, timeout=30) as mx:
        mx.send_message(request, from_addr="ada@example.com", to_addrs=[forged])
        mx.send_message(request, from_addr="ada@example.com", to_addrs=[mailto])
    events = events_until(scaisend, token, message_id, named("unsubscribe"))
    (unsubscribed,) = [e for e in events if e["event_type"] == "unsubscribe"]
    assert unsubscribed["email"] == "ada@example.com"
    assert unsubscribed["data"]["method"] == "mailto"
    listed = admin(scaisend, token, "GET", "/v3/suppression/unsubscribes")
    assert listed.status_code == 200 and "ada@example.com" in listed.text


def test_smtp_submission_with_a_group_gets_the_headers(
    scaisend: ScaisendServer, sink: SmtpSink, dns_server: DnsServer
) -> None:
    token, key = account_with_key(scaisend, dns_server)
    group = admin(scaisend, token, "POST", "/v3/asm/groups", {"name": "Alerts"}).json()
    message = EmailMessage()
    message["From"] = "hello@mail.example.com"
    message["To"] = "ada@example.com"
    message["Subject"] = "Over SMTP"
    message["X-SMTPAPI"] = json.dumps({"asm_group_id": group["id"]})
    message.set_content("Hello\n")
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with smtplib.SMTP("127.0.0.1", scaisend.submission_port, timeout=30) as client:
        client.starttls(context=context)
        client.login("apikey", key)
        client.send_message(message)
    raw = sink.wait_for(1)[0].data
    assert dkim.verify(raw, dnsfunc=dkim_dns(dns_server))
    _, url = links(received(sink))
    assert httpx.post(url, data={"List-Unsubscribe": "One-Click"}, timeout=10).status_code == 200
    message_id = raw.split(b"X-ScaiSend-Message-Id: ")[1].split(b"\r\n")[0].decode()
    events = events_until(scaisend, token, message_id, named("group_unsubscribe"))
    assert [
        e["data"]["asm_group_id"] for e in events if e["event_type"] == "group_unsubscribe"
    ] == [group["id"]]
