"""The mailbox simulator end to end: one request with a test key to every magic address gives
each outcome as signed webhooks, in the message log and on the suppression lists (defer@
deferred twice then delivered, also across a restart; unsubscribe@ with an ASM group
unsubscribes from the group), and nothing reaches the recipients' MX."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections import Counter
from typing import Any

import httpx

from mta.core.events import EVENT_TYPES
from tests.support.api import admin, set_up_account
from tests.support.dns_server import DnsServer
from tests.support.server import ScaisendServer
from tests.support.sink import SmtpSink
from tests.support.webhook_receiver import Delivery, WebhookReceiver

LINK = "https://shop.example/sale?from=ci"
ADDRESSES = [
    "ada@example.com",
    "bounce@example.com",
    "Block+ci@example.org",  # case and a +tag do not matter
    "defer@example.net",
    "complaint@example.com",
    "unsubscribe@example.com",
    "open@example.com",
    "click@example.com",
]
EXPECTED = {  # per recipient, in order, what the webhook and the message log show
    "ada@example.com": ["processed", "delivered"],
    "bounce@example.com": ["processed", "bounce"],
    "Block+ci@example.org": ["processed", "bounce"],
    "defer@example.net": ["processed", "deferred", "deferred", "delivered"],
    "complaint@example.com": ["processed", "delivered", "spam_report"],
    "unsubscribe@example.com": ["processed", "delivered", "unsubscribe"],
    "open@example.com": ["processed", "delivered", "open"],
    "click@example.com": ["processed", "delivered", "click"],
}

SUPPRESSED = {
    "bounces": ["bounce@example.com"],
    "blocks": ["block+ci@example.org"],
    "spam_reports": ["complaint@example.com"],
    "unsubscribes": ["unsubscribe@example.com"],
}


def make_test_key(server: ScaisendServer, token: str) -> str:
    response = admin(
        server,
        token,
        "POST",
        "/v3/api_keys",
        {"name": "ci", "environment": "test", "scopes": ["mail.send"]},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["api_key"])


def subscribe(server: ScaisendServer, token: str, receiver: WebhookReceiver) -> str:
    hook = admin(
        server,
        token,
        "POST",
        "/v3/user/webhooks",
        {"url": receiver.url, "enabled_events": sorted(EVENT_TYPES)},
    )
    assert hook.status_code == 201, hook.text
    return str(hook.json()["signing_secret"])


def send(server: ScaisendServer, key: str, addresses: list[str], **extra: Any) -> str:
    response = httpx.post(
        f"{server.base_url}/v3/mail/send",
        timeout=30,
        headers={"Authorization": f"Bearer {key}"},
        json={
            "personalizations": [{"to": [{"email": a}]} for a in addresses],
            "from": {"email": "hello@mail.example.com"},
            "subject": "Simulated",
            "content": [
                {"type": "text/plain", "value": f"Our sale: {LINK}"},
                {"type": "text/html", "value": f'<p>Our <a href="{LINK}">sale</a></p>'},
            ],
            "categories": ["ci"],
            "custom_args": {"order": "42"},
            "tracking_settings": {"click_tracking": {"enable": False}},
            **extra,
        },
    )
    assert response.status_code == 202, response.text
    return str(response.json()["message_id"])


def wait_for_webhooks(receiver: WebhookReceiver, count: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(receiver.deliveries) < count:
        time.sleep(0.1)
    time.sleep(0.5)  # room for an unexpected extra delivery to show up


def signed(delivery: Delivery, secret: str) -> bool:
    timestamp = delivery.headers["x-scaisend-timestamp"]
    expected = hmac.new(
        secret.encode(), f"{timestamp}.{delivery.body.decode()}".encode(), hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(expected, delivery.headers["x-scaisend-signature"])


def logged(server: ScaisendServer, key: str, message_id: str, count: int) -> dict[str, Any]:
    """The message log entry once it holds `count` events (bounded wait)."""
    deadline = time.monotonic() + 30
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = httpx.get(
            f"{server.base_url}/v3/messages/{message_id}",
            headers={"Authorization": f"Bearer {key}"},
        )
        body = response.json()
        if response.status_code == 200 and len(body.get("events") or []) >= count:
            return body
        time.sleep(0.2)
    raise AssertionError(f"the message log never held {count} events: {body}")


def by_recipient(events: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        found.setdefault(event["email"], []).append(event)
    return found


def test_every_magic_address_gives_its_outcome(
    scaisend: ScaisendServer, dns_server: DnsServer, sink: SmtpSink, receiver: WebhookReceiver
) -> None:
    token = scaisend.token()
    set_up_account(scaisend, dns_server, token)
    key = make_test_key(scaisend, token)
    secret = subscribe(scaisend, token, receiver)
    message_id = send(scaisend, key, ADDRESSES)
    total = sum(len(kinds) for kinds in EXPECTED.values())
    wait_for_webhooks(receiver, total)

    assert all(signed(d, secret) for d in receiver.deliveries)
    hooks = [json.loads(d.body) for d in receiver.deliveries]
    assert [h["event"] for h in hooks] == [
        d.headers["x-scaisend-event"] for d in receiver.deliveries
    ]
    assert Counter((h["email"], h["event"]) for h in hooks) == Counter(
        (email, kind) for email, kinds in EXPECTED.items() for kind in kinds
    )
    assert all(h["message_id"] == message_id for h in hooks)
    assert all(h["order"] == "42" and h["categories"] == ["ci"] for h in hooks)
    check_webhook_details(by_recipient(hooks))

    message = logged(scaisend, key, message_id, total)
    events = by_recipient(message["events"])
    assert {email: [e["event_type"] for e in found] for email, found in events.items()} == EXPECTED
    deferrals = [e["data"] for e in events["defer@example.net"][1:]]
    assert [d["attempt"] for d in deferrals] == [1, 2, 3]
    assert [d.get("status") for d in deferrals[:2]] == ["4.2.0", "4.2.0"]
    assert suppressed(scaisend, token) == SUPPRESSED
    assert sink.snapshot() == []  # a test key sends nothing, whatever the outcome


def suppressed(server: ScaisendServer, token: str) -> dict[str, list[str]]:
    """The account's suppression lists, as the same event sink fills them for real mail."""
    lists: dict[str, list[str]] = {}
    for name in SUPPRESSED:
        response = admin(server, token, "GET", f"/v3/suppression/{name}")
        assert response.status_code == 200, response.text
        lists[name] = sorted(entry["email"].lower() for entry in response.json())
    return lists


def check_webhook_details(hooks: dict[str, list[dict[str, Any]]]) -> None:
    def one(email: str, kind: str) -> dict[str, Any]:
        (found,) = [h for h in hooks[email] if h["event"] == kind]
        return found

    bounce, block = one("bounce@example.com", "bounce"), one("Block+ci@example.org", "bounce")
    assert (bounce["type"], bounce["status"]) == ("bounce", "5.1.1")
    assert bounce["bounce_classification"] == "Invalid Address"
    assert (block["type"], block["status"]) == ("blocked", "5.7.1")
    assert block["bounce_classification"] == "Reputation"
    assert one("click@example.com", "click")["url"] == LINK
    for email, kind in [
        ("complaint@example.com", "spam_report"),
        ("unsubscribe@example.com", "unsubscribe"),
        ("open@example.com", "open"),
        ("click@example.com", "click"),
    ]:
        assert one(email, kind)["timestamp"] > one(email, "delivered")["timestamp"]


def test_a_deferred_simulation_survives_a_restart(
    scaisend: ScaisendServer, dns_server: DnsServer, sink: SmtpSink
) -> None:
    token = scaisend.token()
    set_up_account(scaisend, dns_server, token)
    key = make_test_key(scaisend, token)
    message_id = send(scaisend, key, ["defer@example.com"])
    logged(scaisend, key, message_id, 2)  # processed, then the first deferral
    scaisend.stop()
    scaisend.start()
    message = logged(scaisend, key, message_id, 4)
    kinds = [e["event_type"] for e in message["events"]]
    assert kinds == ["processed", "deferred", "deferred", "delivered"]
    assert message["status"] == "delivered"
    assert sink.snapshot() == []


def test_unsubscribe_in_a_group_is_a_group_unsubscribe(
    scaisend: ScaisendServer, dns_server: DnsServer, sink: SmtpSink, receiver: WebhookReceiver
) -> None:
    token = scaisend.token()
    set_up_account(scaisend, dns_server, token)
    key = make_test_key(scaisend, token)
    subscribe(scaisend, token, receiver)
    group = admin(
        scaisend, token, "POST", "/v3/asm/groups", {"name": "News", "description": "Weekly"}
    )
    assert group.status_code == 201, group.text
    group_id = group.json()["id"]
    message_id = send(scaisend, key, ["unsubscribe+news@example.com"], asm={"group_id": group_id})
    hook = receiver.wait_for(lambda d: d.headers.get("x-scaisend-event") == "group_unsubscribe")
    event = json.loads(hook[0].body)
    assert (event["email"], event["asm_group_id"]) == ("unsubscribe+news@example.com", group_id)
    assert event["message_id"] == message_id
    listed = admin(scaisend, token, "GET", f"/v3/asm/groups/{group_id}/suppressions")
    assert listed.json() == ["unsubscribe+news@example.com"]
    assert admin(scaisend, token, "GET", "/v3/suppression/unsubscribes").json() == []
    assert sink.snapshot() == []
